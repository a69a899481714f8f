import { describe, expect, it } from 'vitest';
import { banner } from '../src/rejections';
import { tellSync, type SyncEvent } from '../src/api';
import syncEvents from './fixtures/sync-events.json';


describe('the sync banner', () => {
  it('says the centre cannot be reached and when the tablet tries again', () => {
    const b = banner(3, 0, '14:05');
    expect(b.text).toContain('không kết nối được máy chủ');
    expect(b.text).toContain('14:05');
    expect(b.text).toContain('3 việc');
    expect(b.cls).toBe('banner warn');
  });
  it('says only what waits while the centre has not been found missing', () => {
    expect(banner(3, 0).text).toBe('Chưa đồng bộ: 3 việc');
    expect(banner(0, 0, '14:05').text).toBe('Đã đồng bộ hết');
  });
});

describe("the app's sync event", () => {
  it('reaches the listener of its kind with what it carries (the fixture the app\'s own test serialises)', () => {
    const heard: string[] = [];
    const on = {
      progress: (p: { events_sent: number; events_total: number }) => heard.push(`progress ${p.events_sent}/${p.events_total}`),
      unreachable: (u: { retry_in_secs: number }) => heard.push(`unreachable ${u.retry_in_secs}`),
      done: (d: { asked: boolean; report: { events_acknowledged: number } | null }) => heard.push(`done ${d.asked} ${d.report?.events_acknowledged}`),
    };
    for (const e of syncEvents as SyncEvent[]) tellSync(e, on);
    expect(heard).toEqual(['progress 3/54', 'unreachable 40', 'done true 54']);
  });
});

import { movedAwayLines } from '../src/rejections';
import type { Household } from '../src/api';

describe('households moved away, on Today', () => {
  const x = (id: string, village: string, status: string, moved_to: string | null): Household =>
    ({ id, village, serial: id, name: id, address: '', reserve_rank: null, status, assigned: false, moved_to, carried_from: null, replaces: null }) as Household;
  it('lists one by one only those whose paper is out, and each untouched village once', () => {
    const moved = [
      ...Array.from({ length: 30 }, (_, i) => x(`a${i}`, 'v1', 'assigned', 'Lan')),
      x('b1', 'v2', 'distributed', 'Lan'),
      x('b2', 'v2', 'assigned', 'Lan'),
    ];
    const lines = movedAwayLines(moved);
    expect(lines.each.map((h) => h.id)).toEqual(['b1']);
    expect(lines.together).toEqual([
      { village: 'v1', who: 'Lan', n: 30 },
      { village: 'v2', who: 'Lan', n: 1 },
    ]);
  });
});
