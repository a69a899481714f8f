// What the banner says about sync, and what a refused piece of work means for the enumerator:
// never "all synced" while anything was refused; each refusal in words, with the household's
// name and what to do. Pure: tested without a DOM.

import type { RejectedEvent } from './api';
import { tDynamic, t, type Key } from './i18n';

export interface Banner {
  text: string;
  cls: 'banner ok' | 'banner warn' | 'banner error';
}

/** The sync banner: unsent work first, then refused work, and only then "all synced". */
export function banner(pending: number, rejected: number): Banner {
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

/** What to do about one refused event, naming the household as people know it. */
export function whatToDo(r: RejectedEvent, householdName: (id: string) => string): string {
  const key = (KNOWN.includes(r.code) ? `rej_${r.code}` : 'rej_other') as Key;
  return tDynamic(key, t('rej_other', { household: '' }), { household: r.household ? householdName(r.household) : '' });
}
