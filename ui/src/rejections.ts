// What the banner says about sync, and what a refused piece of work means for the enumerator:
// never "all synced" while anything was refused; each refusal in words, with the household's
// name and what to do. Pure: tested without a DOM.

import type { Household, RejectedEvent } from './api';
import { tDynamic, t, type Key } from './i18n';

export interface Banner {
  text: string;
  cls: 'banner ok' | 'banner warn' | 'banner error';
}

/** The sync banner: unsent work first — and, when the centre could not be reached, that it
 * could not and when the tablet tries again (`retryAt`, a time as people read it) — then
 * refused work, and only then "all synced". */
export function banner(pending: number, rejected: number, retryAt: string | null = null): Banner {
  if (pending > 0 && retryAt) return { text: t('unreachable', { n: pending, at: retryAt }), cls: 'banner warn' };
  if (pending > 0) return { text: t('unsynced', { n: pending }), cls: 'banner warn' };
  if (rejected > 0) return { text: t('rejected_banner', { n: rejected }), cls: 'banner error' };
  return { text: t('synced_all'), cls: 'banner ok' };
}

const KNOWN = [
  'household_not_assigned',
  'illegal_transition',
  'duplicate_event',
  'replacement_invalid',
  'parcel_serial_invalid',
  'answers_missing',
  'answers_unexpected',
  'serial_mismatch',
  'household_unknown',
];

/** What to do about one refused event, naming the household as people know it. Work refused
 * because the household moved to another enumerator says one thing: who has it now and where
 * its paper is (read from what this device did there). */
export function whatToDo(r: RejectedEvent, householdName: (id: string) => string, household?: (id: string) => Household | undefined, withPaper = true): string {
  const key = (KNOWN.includes(r.code) ? `rej_${r.code}` : 'rej_other') as Key;
  const x = r.household ? household?.(r.household) : undefined;
  const params = { household: r.household ? householdName(r.household) : '', who: x?.moved_to ?? t('the_new_enumerator') };
  const said = tDynamic(key, t('rej_other', { household: '' }), params);
  return r.code === 'household_not_assigned' && x && withPaper ? `${said} ${paperFate(x)}` : said;
}

/** What a supervisor decided about a refused piece of work, or that it still waits. */
export function resolutionText(r: RejectedEvent): string {
  if (r.resolution === 'accepted') return t('resolution_accepted', { who: r.resolution_note ?? '' });
  if (r.resolution === 'dismissed') return t('resolution_dismissed', { note: r.resolution_note ?? '' });
  return t('resolution_waiting');
}

/** Households moved away, as Today shows them: one line each for those whose paper is still
 * with the household or with this enumerator (something to do), and one line per village and
 * new enumerator for the rest (a village moved before any paper went out: nothing to do). */
export function movedAwayLines(moved: Household[]): { each: Household[]; together: { village: string; who: string | null; n: number }[] } {
  const paperOut = (x: Household) => ['distributed', 'collected', 'transcribed', 'verified'].includes(x.status);
  const each = moved.filter(paperOut);
  const together: { village: string; who: string | null; n: number }[] = [];
  for (const x of moved.filter((y) => !paperOut(y))) {
    const line = together.find((g) => g.village === x.village && g.who === x.moved_to);
    if (line) line.n += 1;
    else together.push({ village: x.village, who: x.moved_to, n: 1 });
  }
  return { each, together };
}

/** Where the paper of a household moved to another enumerator is, and what to do with it —
 * read from what this device did there. */
export function paperFate(x: Household): string {
  const who = x.moved_to ?? t('the_new_enumerator');
  switch (x.status) {
    case 'reserve':
    case 'assigned':
    case 'absent':
      return t('fate_no_paper');
    case 'distributed':
      return t('fate_at_household', { serial: x.serial, who });
    case 'collected':
    case 'transcribed':
    case 'verified':
      return t('fate_with_you', { serial: x.serial, who });
    case 'in_parcel':
      return t('fate_in_parcel');
    default:
      return t('fate_nothing');
  }
}
