import { describe, expect, it, vi } from 'vitest';
import { allKeys, formatDate, formatDateTime, formatTime, setLang, setTimeZone, t } from '../src/i18n';
import { href, parseRoute } from '../src/route';

describe('strings', () => {
  it('has every string in both languages, and Vietnamese is written with its diacritics', () => {
    expect(allKeys('en').sort()).toEqual(allKeys('vi').sort());
    expect(t('unsynced', { n: 3 }, 'vi')).toBe('Chưa đồng bộ: 3 việc');
    expect(t('unsynced', { n: 3 }, 'en')).toBe('Not synced: 3 pieces of work');
    expect(t('to_distribute', {}, 'vi').normalize('NFC')).toBe(t('to_distribute', {}, 'vi'));
  });
  it('keeps placeholders it has no value for visible', () => {
    expect(t('enrolled_as', {}, 'en')).toBe('Enrolled: {name}');
  });
});

describe('dates and times', () => {
  // setLang marks the page's language; these tests run without a page.
  vi.stubGlobal('document', { documentElement: {} });
  it('writes a day out in full as Intl does, every day of two years, in both languages', () => {
    for (const [lang, locale] of [['vi', 'vi-VN'], ['en', 'en-GB']] as const) {
      setLang(lang);
      const intl = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeZone: 'UTC' });
      for (let day = 0; day < 731; day++) {
        const d = new Date(Date.UTC(2026, 0, 1 + day));
        expect(formatDate(d.toISOString().slice(0, 10))).toBe(intl.format(d));
      }
    }
    const early = new Date(0);
    early.setUTCFullYear(99, 2, 1); // a year Date.UTC would take for 1999
    expect(formatDate('0099-03-01')).toBe(new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeZone: 'UTC' }).format(early));
    setLang('vi');
    expect(formatDate('2026-12-07')).toBe('Thứ Hai, 7 tháng 12, 2026');
  });
  it('leaves what is not a calendar day as it was given', () => {
    setLang('vi');
    for (const odd of ['', '2026-02-30', '2026-13-01', '7/12/2026', '2026-12-07T10:00:00Z']) expect(formatDate(odd)).toBe(odd);
  });
  it("writes times in the campaign's zone, and in the tablet's for a zone it does not know", () => {
    setLang('vi');
    setTimeZone('Asia/Ho_Chi_Minh');
    expect(formatTime(new Date('2026-12-06T23:30:00Z'))).toBe('06:30');
    expect(formatDateTime('2026-12-06T23:30:00Z')).toBe(new Intl.DateTimeFormat('vi-VN', { dateStyle: 'short', timeStyle: 'short', timeZone: 'Asia/Ho_Chi_Minh' }).format(new Date('2026-12-06T23:30:00Z')));
    setTimeZone('UTC');
    expect(formatTime(new Date('2026-12-06T23:30:00Z'))).toBe('23:30');
    setTimeZone('Mars/Olympus_Mons');
    expect(formatTime(new Date('2026-12-06T23:30:00Z'))).toBe(new Intl.DateTimeFormat('vi-VN', { hour: '2-digit', minute: '2-digit' }).format(new Date('2026-12-06T23:30:00Z')));
    setTimeZone(null);
  });
  it("follows the tablet's zone when it is set while the app runs, where there is no campaign zone", () => {
    setLang('vi');
    setTimeZone(null);
    const at = new Date('2026-12-06T23:30:00Z');
    try {
      vi.stubEnv('TZ', 'UTC');
      expect(formatTime(at)).toBe('23:30');
      vi.stubEnv('TZ', 'Asia/Ho_Chi_Minh');
      expect(formatTime(at)).toBe('06:30');
      setTimeZone('Mars/Olympus_Mons');
      vi.stubEnv('TZ', 'UTC');
      expect(formatTime(at)).toBe('23:30');
    } finally {
      setTimeZone(null);
      vi.unstubAllEnvs();
    }
  });
});

describe('routes', () => {
  it('round-trips every screen through the URL hash, one campaign\'s screens with their campaign', () => {
    for (const r of [
      { name: 'today' },
      { name: 'village', id: 'dh-p2-kp1', campaign: 'qt-sipas-2024' },
      { name: 'household', id: 'dh-p2-kp1-01', campaign: 'bd-hailong-2024' },
      { name: 'key', id: 'dh-p2-kp1-01', pass: 2, campaign: 'qt-sipas-2024' },
      { name: 'verify', id: 'x y', campaign: 'c/d' },
      { name: 'parcels', campaign: 'qt-sipas-2024' },
      { name: 'sync' },
      { name: 'setup' },
    ] as const) {
      expect(parseRoute(href(r))).toEqual(r);
    }
    expect(href({ name: 'village', id: 'v', campaign: 'bd-hailong-2024' })).toBe('#/c/bd-hailong-2024/village/v');
    expect(parseRoute('#/nonsense')).toEqual({ name: 'today' });
    expect(parseRoute('')).toEqual({ name: 'today' });
  });
  it('opens a screen saved before campaigns were named in the current campaign', async () => {
    const { useCampaign } = await import('../src/api');
    expect(parseRoute('#/village/dh-p2-kp1')).toEqual({ name: 'village', id: 'dh-p2-kp1', campaign: undefined });
    useCampaign('qt-sipas-2024');
    expect(href({ name: 'household', id: 'h' })).toBe('#/c/qt-sipas-2024/household/h');
  });
});

describe('what the banner and the refusals say', () => {
  it('never says all synced while work was refused, and names the household with what to do', async () => {
    const { banner, whatToDo } = await import('../src/rejections');
    expect(banner(3, 2).cls).toBe('banner warn');
    expect(banner(0, 2)).toEqual({ text: 'Máy chủ từ chối 2 việc — mở để xem cần làm gì', cls: 'banner error' });
    expect(banner(0, 0).text).toBe('Đã đồng bộ hết');
    const r = { event: 'e', household: 'h1', kind: 'form_distributed', code: 'household_not_assigned', reason: 'household h1 is assigned to another enumerator now', resolution: null, resolution_note: null };
    const said = whatToDo(r, (id) => (id === 'h1' ? 'Nguyễn Văn A (QT24-00001)' : id));
    expect(said).toContain('Nguyễn Văn A (QT24-00001)');
    expect(said).not.toMatch(/household_not_assigned|assigned to another/);
    // With the household as this device holds it: one instruction, naming who has it now, from
    // where its paper is — never "give it to the supervisor" beside "tell them to collect it".
    const x = { id: 'h1', village: 'v', serial: 'QT24-00001', name: 'Nguyễn Văn A', address: '', reserve_rank: null, status: 'distributed', assigned: false, moved_to: 'Trần Văn Bình', carried_from: null, replaces: null };
    const one = whatToDo(r, () => 'Nguyễn Văn A (QT24-00001)', () => x);
    expect(one).toBe('Hộ Nguyễn Văn A (QT24-00001) nay do Trần Văn Bình phụ trách. Phiếu giấy số QT24-00001 đang ở hộ. Báo Trần Văn Bình đến thu phiếu này; đừng phát phiếu mới.');
    // A refusal recorded there (no paper) says there is nothing to hand on.
    expect(whatToDo(r, () => 'A', () => ({ ...x, status: 'refused' }))).toContain('không cần làm gì');
    expect(whatToDo(r, () => 'A', () => x, false)).toBe('Hộ A nay do Trần Văn Bình phụ trách.');
    expect(whatToDo({ ...r, code: 'something_new' }, () => 'X')).toContain('Báo giám sát viên');
  });

  it('says what a supervisor decided, or that it waits', async () => {
    const { resolutionText } = await import('../src/rejections');
    const r = { event: 'e', household: 'h1', kind: 'form_distributed', code: 'household_not_assigned', reason: '', resolution: null, resolution_note: null };
    expect(resolutionText(r)).toBe('Đang chờ giám sát viên quyết định.');
    expect(resolutionText({ ...r, resolution: 'accepted', resolution_note: 'Trần Văn Bình' })).toContain('hồ sơ của Trần Văn Bình');
    expect(resolutionText({ ...r, resolution: 'dismissed', resolution_note: 'phát nhầm' })).toContain('bỏ qua việc này: phát nhầm');
  });
  it('tells where the paper of a household moved away is, from what this device did', async () => {
    const { paperFate } = await import('../src/rejections');
    const x = { id: 'h1', village: 'v', serial: 'QT24-0007', name: 'A', address: '', reserve_rank: null, status: 'assigned', assigned: false, moved_to: 'Trần Văn Bình', carried_from: null, replaces: null };
    expect(paperFate(x)).toContain('không cần làm gì');
    expect(paperFate({ ...x, status: 'distributed' })).toBe('Phiếu giấy số QT24-0007 đang ở hộ. Báo Trần Văn Bình đến thu phiếu này; đừng phát phiếu mới.');
    expect(paperFate({ ...x, status: 'collected' })).toContain('trao cho Trần Văn Bình hoặc giám sát viên');
    expect(paperFate({ ...x, status: 'transcribed', moved_to: null })).toContain('trao cho điều tra viên mới');
  });
});

describe('finding a household', () => {
  it('finds without diacritics, by any word of name, address or serial', async () => {
    const { fold, matches } = await import('../src/search');
    expect(fold('Nguyễn Thị Thảo, Đường Lê Lợi')).toBe('nguyen thi thao, duong le loi');
    const x = { name: 'Trần Thị Thảo', address: 'Số 12, Khu phố 2', serial: 'QT24-00031' };
    expect(matches(x, 'thao')).toBe(true);
    expect(matches(x, 'THẢO')).toBe(true);
    expect(matches(x, 'tran thao')).toBe(true);
    expect(matches(x, 'khu pho 2')).toBe(true);
    expect(matches(x, '00031')).toBe(true);
    expect(matches(x, 'thao 00032')).toBe(false);
    expect(matches(x, '  ')).toBe(true);
  });
});

describe('the enrollment link of a printed code', () => {
  it('gives the intake address and the code, and nothing for anything else', async () => {
    const { parseEnrollLink } = await import('../src/enroll_link');
    expect(parseEnrollLink('fieldpost://enroll?intake=https%3A%2F%2Fintake.example.vn%3A8443&code=ABCD-EFGH-JKLM')).toEqual({ intake: 'https://intake.example.vn:8443', code: 'ABCD-EFGH-JKLM' });
    expect(parseEnrollLink(' fieldpost://enroll?intake=http://127.0.0.1:8080&code=AB12 ')).toEqual({ intake: 'http://127.0.0.1:8080', code: 'AB12' });
    expect(parseEnrollLink('ABCD-EFGH-JKLM')).toBeNull();
    expect(parseEnrollLink('fieldpost://enroll?intake=javascript:alert(1)&code=X')).toBeNull();
    expect(parseEnrollLink('fieldpost://enroll?intake=http://x&code=')).toBeNull();
  });
});
