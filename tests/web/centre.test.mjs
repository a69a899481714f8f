// The centre's pages in a real browser (Debian's Chromium, driven by Playwright) against a
// real intake that tests/centre_pages.rs started with the demo campaign and synced data.
// Environment: BASE_URL, SUPERVISOR, MINISTRY and ADMIN (login:password each), PASSPHRASE,
// SERIALS (the synced forms' serials, comma-separated), SCREENSHOTS (a folder), UI_DIST (the
// app's built front end, for its QR reader).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';

const base = process.env.BASE_URL;
// The Quảng Trị campaign's pages.
const C = `${base}/c/qt-sipas-2024`;
const [supLogin, supPassword] = process.env.SUPERVISOR.split(':');
const [minLogin, minPassword] = process.env.MINISTRY.split(':');
const [adminLogin, adminPassword] = process.env.ADMIN.split(':');
const [provinceLogin, provincePassword] = process.env.PROVINCE.split(':');
const serials = process.env.SERIALS.split(',');
const shots = process.env.SCREENSHOTS;

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => browser?.close());

/** Logs in, then opens `start` (the Quảng Trị campaign's progress unless told). */
async function logIn(login, password, start = `${C}/progress`, viewport = { width: 1366, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'vi-VN', isMobile: viewport.width < 500 });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button')]);
  if (start) await page.goto(start);
  return page;
}

test('a supervisor logs in and sees only their district', async () => {
  const page = await logIn(supLogin, supPassword);
  const rows = await page.locator('tbody tr').allTextContents();
  assert.equal(rows.length, 6);
  assert.ok(rows.every((r) => r.includes('Thành phố Đông Hà')), rows.join('\n'));
  assert.ok(!(await page.content()).includes('Thị xã Quảng Trị'));
  await page.screenshot({ path: `${shots}/centre-01-tien-do-giam-sat.png`, fullPage: true });
  const other = await page.goto(`${C}/progress/district/qt`);
  assert.equal(other.status(), 404);
  const ministryPage = await page.goto(`${C}/ministry/index`);
  assert.equal(ministryPage.status(), 404);
});

test('a supervisor on a 390 px phone sees who is behind first, without scrolling sideways', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN', isMobile: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', supLogin);
  await page.fill('input[name=password]', supPassword);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button')]);
  await page.goto(`${C}/progress`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the progress page runs ${overflow} px off a 390 px screen`);
  const shortfalls = (await page.locator('#cards .card').evaluateAll((cards) => cards.map((c) => Number(c.dataset.shortfall))));
  assert.equal(shortfalls.length, 6);
  assert.deepEqual(shortfalls, [...shortfalls].sort((a, b) => b - a), 'the furthest behind first');
  const first = await page.locator('#cards .card').first().textContent();
  assert.ok(!/enum-|dh-p|T\d\d:\d\d:\d\d/.test(first), `names and local times, not ids: ${first}`);
  const fieldDays = await page.locator('#cards .card .field-day').allTextContents();
  assert.equal(fieldDays.length, 6, 'every card says when the work was done, beside when it arrived');
  assert.ok(fieldDays.some((d) => /Làm ngoài thực địa gần nhất: \d\d\/\d\d\/\d{4}/.test(d)), fieldDays.join(' | '));
  // The chart's letters as the phone draws them: readable, and no day label over another.
  const letters = await page.locator('#progress-chart text').evaluateAll((ts) => ts.map((t) => {
    const r = t.getBoundingClientRect();
    return { h: r.height, l: r.left, r: r.right, day: t.classList.contains('day') };
  }));
  assert.ok(letters.length > 0);
  for (const t of letters) assert.ok(t.h >= 10, `a chart letter ${t.h.toFixed(1)} px high on a 390 px phone`);
  const days = letters.filter((t) => t.day).sort((a, b) => a.l - b.l);
  for (let i = 1; i < days.length; i++) assert.ok(days[i].l >= days[i - 1].r, 'day labels overlap');
  await page.screenshot({ path: `${shots}/centre-01b-tien-do-390px.png`, fullPage: true });
  await context.close();
});

test('the ministry records a parcel with a missing and a duplicate serial', async () => {
  const page = await logIn(minLogin, minPassword);
  await page.goto(`${C}/ministry/reconciliation`);
  // A barcode scanner types each serial and Enter; the first form is scanned twice, the last is missing.
  const scanned = [serials[0], serials[0], ...serials.slice(1, -1)];
  await page.locator('textarea[name=serials]').pressSequentially(scanned.join('\n') + '\n');
  await page.click('form[action="ministry/paper"] button');
  await page.waitForSelector('#duplicates');
  assert.match(await page.locator('#duplicates').textContent(), new RegExp(`${serials[0]} × 2`));
  const missing = await page.locator('td.missing-paper').allTextContents();
  assert.ok(missing.some((m) => m.includes(serials[serials.length - 1])), missing.join(' | '));
  await page.screenshot({ path: `${shots}/centre-02-doi-chieu.png`, fullPage: true });
  // The result is the page itself (post/redirect/get): reloading it records nothing again,
  // and the message is said once.
  assert.match(page.url(), /\/ministry\/reconciliation$/);
  assert.match(await page.locator('[role=status]').textContent(), /Đã ghi nhận/);
  await page.reload();
  assert.match(await page.locator('#duplicates').textContent(), new RegExp(`${serials[0]} × 2`));
  assert.equal(await page.locator('[role=status]').count(), 0);
  // The recording taken back while the missing serial waits typed in the box: the box then
  // holds both (the button sends the box with it), and recording it again loses nothing.
  const box = page.locator('textarea[name=serials]');
  await box.fill(serials[serials.length - 1]);
  await page.locator('#paper-batches button', { hasText: 'Huỷ lần này' }).first().click();
  await page.click('button[name=confirmed][value=yes]');
  await page.waitForSelector('[role=status]');
  const held = (await box.inputValue()).split('\n').filter(Boolean);
  assert.deepEqual([...held].sort(), [serials[serials.length - 1], ...scanned].sort());
  await page.click('form[action="ministry/paper"] button');
  await page.waitForSelector('#duplicates');
  assert.match(await page.locator('#duplicates').textContent(), new RegExp(`${serials[0]} × 2`));
  const stillMissing = await page.locator('td.missing-paper').allTextContents();
  assert.ok(!stillMissing.some((m) => m.includes(serials[serials.length - 1])), stillMissing.join(' | '));
});

test('the ministry draws the back-check sample twice with the same seed and gets the same list', async () => {
  const page = await logIn(minLogin, minPassword);
  const draw = async () => {
    await page.goto(`${C}/ministry/backcheck`);
    await page.fill('input[name=seed]', 'phuc-tra-quang-tri-2024');
    await page.fill('input[name=share]', '50');
    await page.fill('input[name=min]', '1');
    await page.click('form[action="ministry/backcheck"] button');
    await page.waitForSelector('.sample');
    return page.locator('.sample td.serial').allTextContents();
  };
  const first = await draw();
  const second = await draw();
  assert.ok(first.length >= 1);
  assert.deepEqual(second, first);
  await page.screenshot({ path: `${shots}/centre-03-phuc-tra.png`, fullPage: true });
});

test('the ministry opens the answers with the passphrase and sees the index', async () => {
  const page = await logIn(minLogin, minPassword);
  await page.goto(`${C}/ministry/index`);
  await page.locator('form[action="ministry/index"] input[name=passphrase]').fill('not the passphrase, surely');
  await page.click('#compute');
  assert.match(await page.locator('.error').textContent(), /Cụm mật khẩu không mở được khoá mở phiếu/);
  // The passphrase is typed once for every action of the page: two downloads, then the index.
  await page.locator('form[action="ministry/index"] input[name=passphrase]').fill(process.env.PASSPHRASE);
  for (const [button, file] of [['Tải chỉ số (CSV)', /\.csv$/], ['Tải câu trả lời (XLSX)', /\.xlsx$/]]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: button }).click()]);
    assert.match(download.suggestedFilename(), file);
  }
  await page.click('#compute');
  await page.waitForSelector('#national');
  assert.match(await page.locator('#national').textContent(), /^\d+,\d$/, 'a decimal comma on a Vietnamese page');
  assert.ok((await page.locator('table.index[data-level=village] tbody tr').count()) >= 1);
  await page.screenshot({ path: `${shots}/centre-04-chi-so.png`, fullPage: true });
});

test('a supervisor on a phone decides each refused piece of work: accept into the new record, or dismiss with a reason', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'vi-VN', isMobile: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.fill('input[name=login]', supLogin);
  await page.fill('input[name=password]', supPassword);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button')]);
  await page.goto(`${C}/reassign`);
  const cards = page.locator('#rejected .rejected');
  assert.equal(await cards.count(), 2);
  const first = await cards.first().textContent();
  assert.match(first, /Phát phiếu/);
  assert.match(first, /Hộ đã được chuyển cho điều tra viên khác/);
  assert.ok(!/household_not_assigned|form_distributed|enum-/.test(first), first);
  await page.screenshot({ path: `${shots}/centre-05-viec-bi-tu-choi-390px.png`, fullPage: true });
  // Accept the first: the page asks once more, then says whose record it joined.
  await cards.first().locator('button[value=accepted]').click();
  assert.match(await page.locator('#question').textContent(), /không hoàn tác/);
  await page.click('button[name=confirmed]');
  assert.match(await page.locator('#message').textContent(), /Đã nhận vào hồ sơ của/);
  // Dismiss the other with a reason (behind «Bỏ qua», so it is not pressed by mistake).
  await page.locator('#rejected .rejected summary').click();
  await page.locator('#rejected .rejected input[name=note]').fill('Hộ chưa nhận phiếu, phát nhầm');
  await page.locator('#rejected .rejected button[value=dismissed]').click();
  await page.click('button[name=confirmed]');
  assert.match(await page.locator('#message').textContent(), /Đã bỏ qua: Hộ chưa nhận phiếu/);
  assert.match(await page.locator('#no-rejected').textContent(), /Không có việc nào chờ giải quyết/);
  await context.close();
});

test('every page fits a 390 px phone, a 768 px tablet and a 1280 px screen', async () => {
  for (const [login, password, paths] of [
    [supLogin, supPassword, ['/progress', '/progress/district/dh', '/progress/report', '/reassign', '/codes'].map((p) => `/c/qt-sipas-2024${p}`)],
    [minLogin, minPassword, [...['/ministry/reconciliation', '/ministry/backcheck', '/ministry/index', '/ministry/targets', '/ministry/anomalies', '/ministry/review'].map((p) => `/c/qt-sipas-2024${p}`), '/compare/sipas']],
    [adminLogin, adminPassword, ['/', '/admin', '/admin/audit', '/c/qt-sipas-2024/devices']],
  ]) {
    for (const width of [390, 768, 1280]) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, locale: 'vi-VN', isMobile: width < 500 });
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', password);
      await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/login')), page.click('button')]);
      for (const path of paths) {
        await page.goto(`${base}${path}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${path} runs ${overflow} px off a ${width} px screen`);
      }
      await context.close();
    }
  }
});

// The tablet's camera reads the QR code a supervisor prints. Chromium's fake camera plays a
// video of the real printed code (its SVG from the page, drawn turned and greyed as a camera
// sees paper) into the app's own QR reader as built (ui/dist), which must read the link exactly.
test('a supervisor prints an enrollment code and a tablet camera reads its QR code', async () => {
  const page = await logIn(supLogin, supPassword);
  await page.goto(`${C}/codes`);
  await page.click('#issue-code');
  await page.waitForSelector('#code-card .qr svg');
  const printed = await page.locator('#code').textContent();
  const svg = await page.locator('#code-card .qr svg').evaluate((el) => el.outerHTML);
  await page.screenshot({ path: `${shots}/centre-06-ma-dang-ky.png`, fullPage: true });
  await page.context().close();

  const dist = process.env.UI_DIST;
  const chunk = readdirSync(join(dist, 'assets')).find((f) => /^qr_camera-.*\.js$/.test(f));
  assert.ok(chunk, 'the app is built with its QR reader as a chunk of its own');
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/harness.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(`<!doctype html><meta charset="utf-8"><canvas id="c" width="640" height="480"></canvas><video id="v"></video>`);
    }
    try {
      const body = readFileSync(join(dist, normalize(path).replace(/^\/+/, '')));
      res.writeHead(200, { 'content-type': path.endsWith('.js') ? 'text/javascript' : 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const work = mkdtempSync(join(tmpdir(), 'fieldpost-camera-'));
  let camera;
  try {
    // The video the fake camera plays: the printed code, turned 7° and greyed, on grey paper.
    const drawer = await browser.newPage();
    await drawer.goto(`${origin}/harness.html`);
    const luma = await drawer.evaluate(async (svgText) => {
      const img = new Image();
      img.src = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
      await img.decode();
      const c = document.getElementById('c');
      const g = c.getContext('2d');
      g.fillStyle = '#b8b8b0';
      g.fillRect(0, 0, 640, 480);
      g.translate(320, 240);
      g.rotate((7 * Math.PI) / 180);
      g.fillStyle = '#e8e8e0';
      g.fillRect(-170, -170, 340, 340);
      g.globalAlpha = 0.8;
      g.drawImage(img, -150, -150, 300, 300);
      const d = g.getImageData(0, 0, 640, 480).data;
      const y = new Array(640 * 480);
      for (let i = 0; i < y.length; i++) y[i] = Math.round(0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]);
      return y;
    }, svg);
    await drawer.close();
    const chroma = Buffer.alloc((640 / 2) * (480 / 2) * 2, 128);
    const frame = Buffer.concat([Buffer.from('FRAME\n'), Buffer.from(luma), chroma]);
    const video = join(work, 'printed-code.y4m');
    writeFileSync(video, Buffer.concat([Buffer.from('YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n'), ...Array(10).fill(frame)]));

    camera = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
    });
    const tablet = await camera.newPage();
    await tablet.goto(`${origin}/harness.html`);
    const read = await tablet.evaluate(async (chunkPath) => {
      const { scanQrCode, cameraAvailable } = await import(chunkPath);
      if (!cameraAvailable()) return { problem: 'no media devices' };
      const scan = scanQrCode(document.getElementById('v'), (text) => (text.startsWith('fieldpost://') ? text : null));
      const timeout = new Promise((r) => setTimeout(() => r({ problem: 'nothing read in 20 s' }), 20000));
      return Promise.race([scan.found.then((link) => ({ link }), (problem) => ({ problem })), timeout]);
    }, `/assets/${chunk}`);
    assert.ok(read.link, `the camera read nothing: ${read.problem}`);
    const link = new URL(read.link);
    assert.equal(link.protocol, 'fieldpost:');
    assert.equal(link.searchParams.get('code'), printed.trim());
    assert.equal(link.searchParams.get('intake'), base);
    // The camera is let go once the code is read.
    assert.equal(await tablet.evaluate(() => document.getElementById('v').srcObject), null);

    // A device without a camera says so instead of waiting.
    const bare = await browser.newPage();
    await bare.goto(`${origin}/harness.html`);
    const problem = await bare.evaluate(async (chunkPath) => {
      const { scanQrCode } = await import(chunkPath);
      return scanQrCode(document.getElementById('v'), () => 'any').found.then(() => 'read something', (p) => p);
    }, `/assets/${chunk}`);
    assert.ok(['no_camera', 'camera_refused'].includes(problem), problem);
  } finally {
    await camera?.close();
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
});

// Several campaigns on one centre: the ministry compares the years of SIPAS on a phone (a target
// met in 2024, missed in 2025); the province's owner sees its own survey only; an admin chooses.
test('the ministry compares the years of a survey on a phone, met and missed', async () => {
  const page = await logIn(minLogin, minPassword, null, { width: 390, height: 844 });
  // Two campaigns: the first page lists them, with the comparison of their years.
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.locator('#campaigns .card').count(), 2);
  await page.click('a.compare');
  await page.waitForSelector('#comparison-chart');
  const province = await page.locator('#comparison tr[data-area=qtri]').textContent();
  assert.match(province, /Đạt/);
  assert.match(province, /Chưa đạt/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the comparison runs ${overflow} px off a 390 px screen`);
  await page.screenshot({ path: `${shots}/centre-07-so-sanh-cac-nam-390px.png`, fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="table.xlsx"]')]);
  assert.match(download.suggestedFilename(), /\.xlsx$/);
  // Targets are set per area on the campaign's page.
  await page.goto(`${C}/ministry/targets`);
  assert.equal(await page.locator('input[name="t:province:qtri"]').inputValue(), '1');
  await page.context().close();
});

test('the province\'s owner sees its own survey, not the ministry\'s', async () => {
  const page = await logIn(provinceLogin, provincePassword, null);
  // One campaign: straight to it.
  assert.equal(new URL(page.url()).pathname, '/c/bd-hailong-2024/progress');
  assert.match(await page.content(), /Thành phố Thủ Dầu Một/);
  assert.ok(!(await page.content()).includes('Đông Hà'));
  for (const path of ['/c/qt-sipas-2024/progress', '/c/qt-sipas-2024/ministry/index', '/compare/sipas']) {
    const r = await page.goto(`${base}${path}`);
    assert.equal(r.status(), 404, path);
  }
  await page.context().close();
});

test('an admin chooses among every campaign', async () => {
  const page = await logIn(adminLogin, adminPassword, null);
  assert.equal(new URL(page.url()).pathname, '/');
  const names = await page.locator('#campaigns .card').allTextContents();
  assert.equal(names.length, 3);
  assert.ok(names.some((n) => n.includes('Bình Dương')) && names.some((n) => n.includes('SIPAS 2025')));
  await page.screenshot({ path: `${shots}/centre-00-cac-dot-khao-sat.png`, fullPage: true });
  await page.context().close();
});
