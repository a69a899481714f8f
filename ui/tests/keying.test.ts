import { describe, expect, it } from 'vitest';
import * as k from '../src/keying';

const text = (vi: string) => ({ vi, en: vi });
const q = (over: Partial<k.SheetQuestion>): k.SheetQuestion => ({
  id: 'q',
  number: '1',
  label: text('Câu'),
  section: text('A'),
  group: null,
  kind: 'code',
  choices: [1, 2].map((code) => ({ code, label: text(String(code)) })),
  special: [{ code: 9, label: text('Không trả lời') }],
  min: null,
  max: null,
  max_length: null,
  required: true,
  ...over,
});

describe('parsing what was typed', () => {
  it('takes codes of the question and its special codes, and names the wrong ones', () => {
    expect(k.parseAnswer(q({}), ' 2 ')).toEqual({ ok: true, value: 2 });
    expect(k.parseAnswer(q({}), '9')).toEqual({ ok: true, value: 9 });
    expect(k.parseAnswer(q({}), '7')).toEqual({ ok: false, error: 'err_not_a_code', params: { v: 7 } });
    expect(k.parseAnswer(q({}), 'a')).toEqual({ ok: false, error: 'err_number', params: {} });
    expect(k.parseAnswer(q({}), '')).toEqual({ ok: true, value: null });
  });
  it('reads several codes separated by spaces or commas, refusing repeats', () => {
    const multi = q({ kind: 'codes', choices: [1, 5, 6, 7].map((code) => ({ code, label: text('') })) });
    expect(k.parseAnswer(multi, '1 5,6')).toEqual({ ok: true, value: [1, 5, 6] });
    expect(k.parseAnswer(multi, '1 1')).toEqual({ ok: false, error: 'err_repeated', params: { v: 1 } });
    expect(k.parseAnswer(multi, '1 3')).toEqual({ ok: false, error: 'err_not_a_code', params: { v: 3 } });
  });
  it('checks ranges and lengths', () => {
    const n = q({ kind: 'integer', min: 18, max: 99, special: [] });
    expect(k.parseAnswer(n, '17')).toMatchObject({ ok: false, error: 'err_out_of_range' });
    expect(k.parseAnswer(n, '40')).toEqual({ ok: true, value: 40 });
    const t = q({ kind: 'text', max_length: 3, choices: [], special: [] });
    expect(k.parseAnswer(t, 'Kinh')).toMatchObject({ ok: false, error: 'err_too_long', params: { length: 4, max: 3 } });
    expect(k.parseAnswer(t, 'Tày')).toEqual({ ok: true, value: 'Tày' });
  });
});

describe('the keyboard', () => {
  it('lets one digit settle a question whose codes are all single digits', () => {
    expect(k.digit(q({}), '2')).toEqual({ ok: true, value: 2 });
    expect(k.digit(q({}), '7')).toMatchObject({ ok: false, error: 'err_not_a_code' });
    expect(k.digit(q({}), 'Enter')).toBeNull();
    const wide = q({ choices: [1, 12].map((code) => ({ code, label: text('') })) });
    expect(k.digit(wide, '1')).toBeNull();
    expect(k.digit(q({ kind: 'codes' }), '1')).toBeNull();
  });
  it('moves past questions that do not apply, and finds questions by their printed number', () => {
    const qs = ['a', 'b', 'c', 'd'].map((id, i) => q({ id, number: `A${i + 1}` }));
    expect(k.nextQuestion(qs, 0, new Set(['b', 'c']))).toBe(3);
    expect(k.nextQuestion(qs, 3, new Set())).toBe(4);
    expect(k.findByNumber(qs, 'a3')).toBe(2);
    expect(k.findByNumber(qs, 'd')).toBe(3);
    expect(k.findByNumber(qs, 'Z9')).toBe(-1);
    expect(k.firstOpen(qs, { a: 1 }, new Set(['b']))).toBe(2);
    expect(k.progress(qs, { a: 1, c: 2 }, new Set(['b']))).toEqual({ done: 2, total: 3 });
  });
  it('shows answers as they are typed', () => {
    expect(k.formatAnswer([1, 5, 6])).toBe('1 5 6');
    expect(k.formatAnswer(null)).toBe('');
    expect(k.formatAnswer('Ý kiến')).toBe('Ý kiến');
  });
  it('turns the core validation errors into messages', () => {
    expect(k.coreErrorMessage({ question: 'q', error: 'out_of_range', value: 5, min: 1, max: 4 })).toEqual({
      key: 'err_out_of_range',
      params: { v: '5', min: '1', max: '4' },
    });
    expect(k.coreErrorMessage({ question: 'q', error: 'constraint_failed', message: 'Chọn ít nhất một kênh' }).params.message).toBe('Chọn ít nhất một kênh');
  });
});

describe('keys in the order they were pressed', () => {
  it('hands each key over only when the one before is done, however slow its save', async () => {
    const seen: string[] = [];
    let inFlight = 0;
    const queue = new k.KeyQueue<string>(async (key) => {
      inFlight++;
      expect(inFlight).toBe(1);
      seen.push(`start ${key}`);
      // Saves of random latency: a later key must still wait for an earlier one.
      await new Promise((r) => setTimeout(r, Math.random() * 8));
      seen.push(`end ${key}`);
      inFlight--;
    });
    const typed = Array.from({ length: 40 }, (_, i) => String(i));
    for (const key of typed) queue.push(key);
    expect(queue.busy).toBe(true);
    await queue.idle();
    expect(queue.busy).toBe(false);
    expect(seen).toEqual(typed.flatMap((key) => [`start ${key}`, `end ${key}`]));
  });
  it('goes on after a key whose handling failed', async () => {
    const seen: string[] = [];
    const queue = new k.KeyQueue<string>((key) => {
      if (key === 'bad') throw new Error('refused');
      seen.push(key);
    });
    const quiet = console.error;
    console.error = () => undefined;
    ['a', 'bad', 'b'].forEach((key) => queue.push(key));
    await queue.idle();
    console.error = quiet;
    expect(seen).toEqual(['a', 'b']);
  });
});

describe('a click after a burst', () => {
  it('waits for keys still on their way before it finishes or leaves', async () => {
    const seen: string[] = [];
    const queue = new k.KeyQueue<string>((key) => {
      seen.push(key);
    });
    queue.push('a');
    // A key of the same burst arrives after the click has started waiting.
    setTimeout(() => queue.push('b'), 60);
    const started = Date.now();
    await queue.settled(150);
    expect(seen).toEqual(['a', 'b']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
  it('reads Shift+Tab however the webview names it', () => {
    expect(k.keyOf({ key: 'Tab' })).toBe('Tab');
    expect(k.keyOf({ key: 'ISO_Left_Tab' })).toBe('Tab');
    expect(k.keyOf({ key: 'Unidentified', code: 'Tab', keyCode: 9 })).toBe('Tab');
    expect(k.keyOf({ key: '5', code: 'Digit5', keyCode: 53 })).toBe('5');
  });
});

describe('editing a field from queued keys, as the browser would', () => {
  it('inserts at the caret, replaces a selection, and deletes whole characters', () => {
    expect(k.editText('', 0, 0, '5')).toEqual({ value: '5', caret: 1 });
    expect(k.editText('12', 0, 2, '3')).toEqual({ value: '3', caret: 1 });
    expect(k.editText('Hà', 2, 2, 'ư')).toEqual({ value: 'Hàư', caret: 3 });
    expect(k.editText('Hà', 2, 2, 'Backspace')).toEqual({ value: 'H', caret: 1 });
    expect(k.editText('abc', 0, 0, 'Delete')).toEqual({ value: 'bc', caret: 0 });
    expect(k.editText('abc', 1, 1, ' ')).toEqual({ value: 'a bc', caret: 2 });
  });
  it('leaves named keys that edit nothing alone', () => {
    expect(k.editText('abc', 1, 1, 'Shift')).toBeNull();
    expect(k.editText('abc', 1, 1, 'F5')).toBeNull();
  });
});

describe('collecting before the collection window', () => {
  it('warns while the window has not opened, and not once it has', async () => {
    const { collectingTooEarly } = await import('../src/screens');
    const timeline = { distribute: { start: '2024-11-21', end: '2024-11-22' }, collect: { start: '2024-11-23', end: '2024-11-24' } };
    expect(collectingTooEarly(timeline, '2024-11-22')).toContain('bất thường');
    expect(collectingTooEarly(timeline, '2024-11-23')).toBeNull();
    expect(collectingTooEarly(timeline, '2024-12-01')).toBeNull();
    expect(collectingTooEarly(null, '2024-11-22')).toBeNull();
  });
});

describe('marks for paper with no usable answer', () => {
  it('reads - ? * as blank, unreadable and several boxes, never as codes', () => {
    expect(k.parseAnswer(q({}), '-')).toEqual({ ok: true, value: { mark: 'blank' } });
    expect(k.parseAnswer(q({}), ' ? ')).toEqual({ ok: true, value: { mark: 'unreadable' } });
    expect(k.parseAnswer(q({}), '*')).toEqual({ ok: true, value: { mark: 'several' } });
    const age = q({ kind: 'integer', min: 18, max: 99, special: [] });
    expect(k.parseAnswer(age, '-')).toEqual({ ok: true, value: { mark: 'blank' } });
    // Several boxes ticked only happens where one code belongs.
    expect(k.parseAnswer(age, '*')).toEqual({ ok: false, error: 'err_mark_several', params: {} });
    const multi = q({ kind: 'codes' });
    expect(k.parseAnswer(multi, '*')).toMatchObject({ ok: false, error: 'err_mark_several' });
  });
  it('settles a one-digit question at once, and shows again as its key', () => {
    expect(k.digit(q({}), '-')).toEqual({ ok: true, value: { mark: 'blank' } });
    expect(k.digit(q({}), '?')).toEqual({ ok: true, value: { mark: 'unreadable' } });
    expect(k.digit(q({ kind: 'integer' }), '-')).toBeNull();
    expect(k.formatAnswer({ mark: 'unreadable' })).toBe('?');
    expect(k.formatAnswer({ mark: 'several' })).toBe('*');
    expect(k.isMark({ mark: 'blank' })).toBe(true);
    expect(k.isMark(5)).toBe(false);
  });
  it('names the core refusal of a mark', () => {
    expect(k.coreErrorMessage({ question: 'q2', error: 'mark_not_allowed', mark: 'several' }).key).toBe('err_mark_several');
  });
});
