// Keying from paper, the logic without the DOM: what a keystroke means, where Enter goes next,
// what an answer's text parses to. The device core validates again on every save.

import type { Key } from './i18n';

export interface Text {
  vi: string;
  en: string;
}

export interface Choice {
  code: number;
  label: Text;
}

export interface SheetQuestion {
  id: string;
  number: string;
  label: Text;
  section: Text;
  group: Text | null;
  kind: 'code' | 'codes' | 'integer' | 'text';
  choices: Choice[];
  special: Choice[];
  min: number | null;
  max: number | null;
  max_length: number | null;
  required: boolean;
}

/** The keyer's account of paper with no usable answer: never a code of the question. */
export type MarkName = 'blank' | 'unreadable' | 'several';
export interface Mark {
  mark: MarkName;
}

export type Answer = number | number[] | string | Mark;

/** The key for each mark, typed alone in a box (as CSPro's special values): `-` blank, `?`
 * unreadable, `*` more than one box ticked. */
export const MARK_KEYS: Record<string, MarkName> = { '-': 'blank', '?': 'unreadable', '*': 'several' };

/** The message key naming a mark. */
export function markKey(m: Mark): Key {
  return m.mark === 'blank' ? 'mark_blank' : m.mark === 'unreadable' ? 'mark_unreadable' : 'mark_several';
}

export function isMark(v: Answer | null | undefined): v is Mark {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Mark).mark === 'string';
}

/** The mark typed as `text` (the whole box holding one mark key), if it is one. */
export function markTyped(q: SheetQuestion, text: string): Parsed | null {
  const mark = MARK_KEYS[text.trim()];
  if (!mark) return null;
  if (mark === 'several' && q.kind !== 'code') return { ok: false, error: 'err_mark_several', params: {} };
  return { ok: true, value: { mark } };
}

export type Parsed = { ok: true; value: Answer | null } | { ok: false; error: Key; params: Record<string, string | number> };

function codesOf(q: SheetQuestion): number[] {
  return [...q.choices, ...q.special].map((c) => c.code);
}

function asInteger(text: string): number | null {
  return /^-?\d+$/.test(text) ? Number(text) : null;
}

/** What the text typed for `q` means; empty text clears the answer. */
export function parseAnswer(q: SheetQuestion, raw: string): Parsed {
  const text = raw.trim();
  if (text === '') return { ok: true, value: null };
  const mark = markTyped(q, text);
  if (mark) return mark;
  switch (q.kind) {
    case 'code': {
      const n = asInteger(text);
      if (n === null) return { ok: false, error: 'err_number', params: {} };
      if (!codesOf(q).includes(n)) return { ok: false, error: 'err_not_a_code', params: { v: n } };
      return { ok: true, value: n };
    }
    case 'codes': {
      const parts = text.split(/[\s,;]+/).filter((p) => p !== '');
      const codes: number[] = [];
      for (const p of parts) {
        const n = asInteger(p);
        if (n === null) return { ok: false, error: 'err_number', params: {} };
        if (!codesOf(q).includes(n)) return { ok: false, error: 'err_not_a_code', params: { v: n } };
        if (codes.includes(n)) return { ok: false, error: 'err_repeated', params: { v: n } };
        codes.push(n);
      }
      return { ok: true, value: codes };
    }
    case 'integer': {
      const n = asInteger(text);
      if (n === null) return { ok: false, error: 'err_number', params: {} };
      const special = q.special.some((c) => c.code === n);
      if (!special && ((q.min !== null && n < q.min) || (q.max !== null && n > q.max))) {
        return { ok: false, error: 'err_out_of_range', params: { v: n, min: q.min ?? '', max: q.max ?? '' } };
      }
      return { ok: true, value: n };
    }
    case 'text': {
      const length = [...text].length;
      if (q.max_length !== null && length > q.max_length) return { ok: false, error: 'err_too_long', params: { length, max: q.max_length } };
      return { ok: true, value: text };
    }
  }
}

/** Whether one keystroke settles this question: a single-code question whose codes are all one digit. */
export function pickedByOneDigit(q: SheetQuestion): boolean {
  return q.kind === 'code' && codesOf(q).every((c) => c >= 0 && c <= 9);
}

/** For a digit or a mark key typed on such a question: the answer it settles, or an error at once. */
export function digit(q: SheetQuestion, key: string): Parsed | null {
  if (!pickedByOneDigit(q) || !(/^\d$/.test(key) || key in MARK_KEYS)) return null;
  return parseAnswer(q, key);
}

/** The next question after `from` that applies; `questions.length` when none is left. */
export function nextQuestion(questions: SheetQuestion[], from: number, notRelevant: Set<string>): number {
  for (let i = from + 1; i < questions.length; i++) {
    if (!notRelevant.has(questions[i].id)) return i;
  }
  return questions.length;
}

/** The first question that applies and still waits for a required answer, else `questions.length`. */
export function firstOpen(questions: SheetQuestion[], answers: Record<string, Answer>, notRelevant: Set<string>): number {
  const i = questions.findIndex((q) => !notRelevant.has(q.id) && !(q.id in answers) && q.required);
  return i === -1 ? questions.length : i;
}

/** A question by its printed number ("9.II.3", "a1") or its id. */
export function findByNumber(questions: SheetQuestion[], typed: string): number {
  const want = typed.trim().toLowerCase();
  if (want === '') return -1;
  return questions.findIndex((q) => q.number.toLowerCase() === want || q.id.toLowerCase() === want);
}

/** An answer as it is typed. */
export function formatAnswer(v: Answer | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (isMark(v)) return Object.keys(MARK_KEYS).find((k) => MARK_KEYS[k] === v.mark) ?? '';
  if (Array.isArray(v)) return v.join(' ');
  return String(v);
}

export function progress(questions: SheetQuestion[], answers: Record<string, Answer>, notRelevant: Set<string>): { done: number; total: number } {
  const applying = questions.filter((q) => !notRelevant.has(q.id));
  return { done: applying.filter((q) => q.id in answers).length, total: applying.length };
}

/** The core's validation error for a question, as a message key and its parameters. */
export interface CoreError {
  question: string;
  error: string;
  [field: string]: unknown;
}

export function coreErrorMessage(e: CoreError): { key: Key; params: Record<string, string | number> } {
  const p = (k: string) => (e[k] === undefined ? '' : String(e[k]));
  switch (e.error) {
    case 'not_a_code':
      return { key: 'err_not_a_code', params: { v: p('code') } };
    case 'out_of_range':
      return { key: 'err_out_of_range', params: { v: p('value'), min: p('min'), max: p('max') } };
    case 'too_long':
      return { key: 'err_too_long', params: { length: p('length'), max: p('max') } };
    case 'repeated_code':
      return { key: 'err_repeated', params: { v: p('code') } };
    case 'special_not_allowed':
      return { key: 'err_special_not_allowed', params: { v: p('code') } };
    case 'constraint_failed':
      return { key: 'err_constraint', params: { message: p('message') } };
    case 'not_applicable':
      return { key: 'err_not_applicable', params: {} };
    case 'mark_not_allowed':
      return { key: 'err_mark_several', params: {} };
    default:
      return { key: 'err_wrong_type', params: { expected: p('expected') } };
  }
}

// ---- Keys in order, whatever the save latency ---------------------------------------------

/** One key as the keyer pressed it. */
export interface Stroke {
  key: string;
  shift: boolean;
  /** When the key was pressed (the event's timeStamp, on performance.now()'s clock): a key's
   * time to saved counts the time it waited behind earlier keys. */
  at?: number;
  /** Not a key: what a question's box holds, to be saved as it is (the keyer left the box
   * by the mouse, or finishes or leaves the form, without pressing Enter). */
  commit?: { question: number; raw: string };
}

/** The key a keydown means. WebKitGTK reports Shift+Tab under X as a key of its own
 * (`ISO_Left_Tab`), which must mean Tab-with-Shift like everywhere else. */
export function keyOf(e: { key: string; code?: string; keyCode?: number }): string {
  if (e.key === 'Tab' || e.key === 'ISO_Left_Tab' || e.code === 'Tab' || e.keyCode === 9) return 'Tab';
  return e.key;
}

/**
 * Takes every key in the order it was pressed and hands it to `handle` one at a time, waiting
 * for each to finish (a save, the focus moving on) before the next. A key pressed while an
 * answer is still being saved therefore lands in the question the keyer would have reached had
 * they typed slowly, never in the one the focus happens to be in.
 */
export class KeyQueue<K> {
  private readonly waiting: K[] = [];
  private running = false;
  private lastPush = 0;

  constructor(private readonly handle: (key: K) => Promise<void> | void) {}

  /** Keys are waiting or one is being handled: new keys must queue behind them. */
  get busy(): boolean {
    return this.running || this.waiting.length > 0;
  }

  push(key: K): void {
    this.lastPush = Date.now();
    this.waiting.push(key);
    if (!this.running) void this.drain();
  }

  /** Resolves when every key pushed so far has been handled. */
  async idle(): Promise<void> {
    while (this.busy) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * Resolves once every key is handled and none has come for `quietMs`. A click (finish, or a
   * link away) can overtake keys typed before it that the system has not delivered yet, in a
   * burst: they are let in first.
   */
  async settled(quietMs: number): Promise<void> {
    while (this.busy || Date.now() - this.lastPush < quietMs) await new Promise((r) => setTimeout(r, 10));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let key = this.waiting.shift(); key !== undefined; key = this.waiting.shift()) {
        try {
          await this.handle(key);
        } catch (e) {
          // One key's failure (shown by its handler) must not stop the keys behind it.
          console.error(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** What a key does to a text field, as the browser would do it: its value and caret after. */
export function editText(value: string, start: number, end: number, key: string): { value: string; caret: number } | null {
  if (key === 'Backspace') {
    if (start !== end) return { value: value.slice(0, start) + value.slice(end), caret: start };
    if (start === 0) return { value, caret: 0 };
    const before = [...value.slice(0, start)];
    before.pop();
    const head = before.join('');
    return { value: head + value.slice(start), caret: head.length };
  }
  if (key === 'Delete') {
    if (start !== end) return { value: value.slice(0, start) + value.slice(end), caret: start };
    const after = [...value.slice(end)];
    after.shift();
    return { value: value.slice(0, start) + after.join(''), caret: start };
  }
  if (key === 'ArrowLeft') return { value, caret: Math.max(0, start === end ? start - 1 : start) };
  if (key === 'ArrowRight') return { value, caret: Math.min(value.length, start === end ? end + 1 : end) };
  if (key === 'Home') return { value, caret: 0 };
  if (key === 'End') return { value, caret: value.length };
  // A printable character (one code point: "ư" or "5"; named keys such as "Shift" are longer).
  if ([...key].length === 1) return { value: value.slice(0, start) + key + value.slice(end), caret: start + key.length };
  return null;
}
