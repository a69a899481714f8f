// The app's commands (src-tauri/src/lib.rs), typed. Each returns a promise; errors are
// `{ code, message }` objects.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Answer, SheetQuestion, Text, CoreError } from './keying';

export interface CommandError {
  code: string;
  message: string;
  /** The question an unfinished form stops at, where there is one. */
  question?: string;
}

export interface Progress {
  events_sent: number;
  events_total: number;
  bytes_sent: number;
  bytes_total: number;
}

export interface Window {
  start: string;
  end: string;
}

export interface VillageToday {
  to_distribute: number;
  to_collect: number;
  to_transcribe: number;
  late: number;
}

/** Everything the tablet carries: each campaign apart, and what waits to be sent of all. */
export interface Tablet {
  enrolled: boolean;
  campaigns: Overview[];
  pending: Progress;
  rejected: number;
  last_contact: string | null;
}

/** One campaign on the tablet. */
export interface Overview {
  /** The campaign's id: what every command of its screens names it by. */
  id: string;
  enrolled: boolean;
  enumerator: string | null;
  enumerator_name: string | null;
  campaign: string | null;
  /** The campaign's time zone (IANA): every time shown is in it. */
  timezone: string | null;
  intake_url: string | null;
  verification_required: boolean;
  replacement_allowed: boolean;
  timeline: { distribute: Window; collect: Window; submit: Window } | null;
  villages: { id: string; name: string; commune: string; district: string }[];
  date: string | null;
  today: { phase: string; villages: Record<string, VillageToday> } | null;
  pending: Progress;
  rejected: number;
  last_contact: string | null;
  moved_away: Household[];
  /** Villages no longer assigned whose households are still shown. */
  former_villages: { id: string; name: string; commune: string; district: string }[];
}

export interface Household {
  id: string;
  village: string;
  serial: string;
  name: string;
  address: string;
  reserve_rank: number | null;
  status: string;
  assigned: boolean;
  /** Who holds it now, once reassigned away. */
  moved_to: string | null;
  /** Whose work, accepted by a supervisor, this household's record carries. */
  carried_from: string | null;
  /** The household this reserve household replaces, once brought in. */
  replaces: string | null;
  /** This tablet holds a finished first keying (a form carried over from another tablet has none). */
  first_keyed_here?: boolean;
}

export interface HistoryEntry {
  kind: string;
  detail: string | null;
  at: string;
  outcome: string | null;
  reason: string | null;
  note: string | null;
  code: string | null;
  resolution: 'accepted' | 'dismissed' | null;
  resolution_note: string | null;
  /** The enumerator whose other tablet recorded it; null for this tablet's own. */
  by: string | null;
}

export interface KeyingSheet {
  form: string;
  title: Text;
  questions: SheetQuestion[];
}

export interface Validation {
  errors: CoreError[];
  required_remaining: string[];
  not_relevant: string[];
  complete: boolean;
}

export interface Mismatch {
  question: string;
  first: Answer | null;
  second: Answer | null;
}

export interface Parcel {
  id: string;
  handed_over_at: string | null;
  serials: string[];
}

export interface RejectedEvent {
  event: string;
  household: string | null;
  kind: string;
  code: string;
  reason: string;
  resolution: 'accepted' | 'dismissed' | null;
  resolution_note: string | null;
}

/** The intake could not be reached by the automatic sync: when it tries again. */
export interface Unreachable {
  retry_in_secs: number;
  tries: number;
}

/** The app's `sync` event (`SyncEvent` in src-tauri/src/sync.rs). */
export type SyncEvent = { kind: 'progress'; of: Progress } | { kind: 'unreachable'; of: Unreachable } | { kind: 'done'; of: SyncDone };

export interface SyncListeners {
  progress: (p: Progress) => void;
  unreachable: (u: Unreachable) => void;
  done: (d: SyncDone) => void;
}

/** Settles once the page listens to the `sync` event (the start draws before it does). */
let listeningToSync: Promise<unknown> = Promise.resolve();

/** Hands one `sync` event to the listener of its kind. */
export function tellSync(e: SyncEvent, on: SyncListeners): void {
  if (e.kind === 'progress') on.progress(e.of);
  else if (e.kind === 'unreachable') on.unreachable(e.of);
  else if (e.kind === 'done') on.done(e.of);
}

export interface SyncDone {
  report: { batches_acknowledged: number; events_acknowledged: number; events_rejected: number } | null;
  error: CommandError | null;
  asked: boolean;
  /** The campaigns that synced, by name; and the one whose sync failed. */
  campaigns: string[];
  failed: string | null;
}

/** The campaign the screens in front of the enumerator belong to (set by the router). */
let campaign = '';

export function useCampaign(id: string): void {
  campaign = id;
}

export function currentCampaign(): string {
  return campaign;
}

export const api = {
  overview: () => invoke<Tablet>('overview'),
  enroll: (url: string, code: string) => invoke<Tablet>('enroll', { url, code }),
  households: (of: string = campaign) => invoke<Household[]>('households', { campaign: of }),
  history: (household: string) => invoke<HistoryEntry[]>('history', { campaign, household }),
  distribute: (household: string, recipient: 'representative' | 'family_member', note: string | null) =>
    invoke<Household>('distribute', { campaign, household, recipient, note }),
  collect: (household: string) => invoke<Household>('collect', { campaign, household }),
  recordOutcome: (household: string, outcome: string, note: string | null) => invoke<Household>('record_outcome', { campaign, household, outcome, note }),
  replace: (household: string) => invoke<string>('replace', { campaign, household }),
  keyingSheet: (household: string) => invoke<KeyingSheet>('keying_sheet', { campaign, household }),
  keyAnswer: (household: string, pass: number, question: string, value: Answer | null) =>
    invoke<{ validation: Validation; cleared: string[] }>('key_answer', { campaign, household, pass, question, value }),
  keyingState: (household: string, pass: number) => invoke<{ answers: Record<string, Answer>; validation: Validation }>('keying_state', { campaign, household, pass }),
  finishFirstKeying: (household: string) => invoke<Household>('finish_first_keying', { campaign, household }),
  mismatches: (household: string) => invoke<Mismatch[]>('mismatches', { campaign, household }),
  finishVerification: (household: string, resolutions: Record<string, Answer | null>) =>
    invoke<Household>('finish_verification', { campaign, household, resolutions }),
  handOverParcel: (households: string[]) => invoke<string>('hand_over_parcel', { campaign, households }),
  parcels: () => invoke<Parcel[]>('parcels', { campaign }),
  rejectedEvents: (of: string = campaign) => invoke<RejectedEvent[]>('rejected_events', { campaign: of }),
  // A sync asked for before the page listens would tell nobody how it went.
  syncNow: () => listeningToSync.then(() => invoke<boolean>('sync_now')),
  uiStateGet: () => invoke<{ route?: string; lang?: string } | null>('ui_state_get'),
  uiReady: (screen: string) => invoke<number>('ui_ready', { screen }),
  uiStateSet: (value: { route: string; lang: string }) => invoke<void>('ui_state_set', { value }),
  /** What the background sync does, as it happens: one listener for all of it (each costs a
   * start-up a round trip through the webview). */
  onSync: (on: SyncListeners): Promise<UnlistenFn> => {
    const listening = listen<SyncEvent>('sync', ({ payload }) => tellSync(payload, on));
    listeningToSync = listening.catch(() => undefined);
    return listening;
  },
};
