// The dashboard in a real browser against a real server with simulated data. Each test is
// one step of a user's session; numbers shown are compared with what the API answers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { launch, shot, SCREENSHOTS } from '../lib/browser.js';
import { startDemo } from '../lib/server.js';

let server;
let browser;
let page;
let second;
const v3 = [];

/** Calls the API from inside the page (same origin, the page's cookies). */
async function api(method, path, body) {
  return page.evaluate(
    async ([m, p, b]) => {
      const r = await fetch(p, { method: m, headers: b === undefined ? {} : { 'Content-Type': 'application/json' }, body: b === undefined ? undefined : JSON.stringify(b) });
      return { status: r.status, body: r.status === 204 ? null : await r.json() };
    },
    [method, path, body],
  );
}

const num = (s) => Number(String(s).replace(/[,\s]/g, ''));

/** Waits until a card has finished (data or error). */
async function settled(id) {
  await page.waitForSelector(`[data-card="${id}"][data-state]`, { timeout: 20_000 });
  return page.getAttribute(`[data-card="${id}"]`, 'data-state');
}

/** The rows (cell texts) of a data table. */
async function rows(testid) {
  return page.$$eval(`table[data-table="${testid}"] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
}

/** Navigates and counts the /v3 requests the page makes. */
async function visit(hash) {
  v3.length = 0;
  await page.goto(`${server.base}/${hash}`);
}

before(async () => {
  server = await startDemo();
  const created = JSON.parse(server.cli(['product', 'create', '--name', 'Second App']));
  second = created.productId;
  server.cli(['user', 'grant', '--email', server.email, '--product', second, '--role', 'viewer']);
  browser = await launch();
  page = browser.context.pages()[0] || (await browser.context.newPage());
  page.on('request', (r) => new URL(r.url()).pathname.startsWith('/v3/') && v3.push(`${r.method()} ${new URL(r.url()).pathname}`));
  page.on('pageerror', (e) => console.error('page error:', e.message));
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  console.log(`screenshots: ${SCREENSHOTS}`);
});

test('log in with the keyboard; a wrong password shows the reason; Cookie Missing is handled', async () => {
  await page.goto(`${server.base}/`);
  await page.waitForSelector('form.login');
  await shot(page, '01-login');
  await page.focus('input[name=userName]');
  await page.keyboard.type(server.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type('wrong-password');
  await page.keyboard.press('Enter');
  await page.waitForSelector('form.login .error');
  assert.match(await page.textContent('form.login .error'), /Invalid user name or password/);
  // The first answer was "Cookie Missing" (fresh browser, no RUI-Csrf), retried by the page.
  await page.fill('input[name=password]', server.password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#main');
  assert.equal(await page.textContent('nav a[aria-current=page]'), 'Overview');
});

test('overview: totals, range presets and split match the API, in under a second', async () => {
  // The first call also waits until the warehouse holds everything the demo sent.
  const body = { startDate: 'NOW-29', stopDate: 'NOW', clientStatus: ['new', 'active', 'lost'] };
  const want = (await api('POST', `/v3/reporting/generic/dateRange/${server.product}`, body)).body.result.totals;
  // A full page load (not a fragment change), from navigation to the last chart drawn.
  await page.goto('about:blank');
  const t0 = Date.now();
  await visit(`#/overview?p=${server.product}`);
  await settled('totals');
  await settled('timeline');
  await settled('net-gain');
  const loadMs = Date.now() - t0;
  console.log(`overview loaded in ${loadMs} ms`);
  assert.ok(loadMs < 1000, `overview took ${loadMs} ms`);
  assert.ok(v3.length <= (await page.$$('[data-card]')).length, `requests ${v3.join(', ')}`);
  for (const s of ['new', 'active', 'lost']) assert.equal(num(await page.textContent(`[data-total="${s}"]`)), want[s], s);
  assert.equal(num(await page.textContent('[data-total="net"]')), want.new - want.lost);
  assert.ok(want.active > 0, 'demo data is loaded');

  await page.click('.range button:has-text("90 days")');
  await page.waitForFunction(() => location.hash.includes('start=NOW-89'));
  await settled('totals');
  const want90 = (await api('POST', `/v3/reporting/generic/dateRange/${server.product}`, { ...body, startDate: 'NOW-89' })).body.result.totals;
  assert.equal(num(await page.textContent('[data-total="active"]')), want90.active);

  await page.click('.controls button[data-value="week"]');
  await page.waitForFunction(() => location.hash.includes('split=week'));
  await settled('timeline');
  const weeks = (await api('POST', `/v3/reporting/generic/dateRange/${server.product}`, { ...body, startDate: 'NOW-89', dateSplit: 'week' })).body.result;
  const shown = await rows('timeline');
  assert.deepEqual(shown.map((r) => r[0]), Object.keys(weeks));
  assert.deepEqual(shown.map((r) => num(r[2])), Object.values(weeks).map((p) => p.active));
  await shot(page, '02-overview');

  // Every chart downloads as PNG and its data as CSV.
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('[data-card="timeline"] button:has-text("PNG")')]);
  assert.match(png.suggestedFilename(), /\.png$/);
  assert.deepEqual([...readFileSync(await png.path()).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-card="timeline"] button:has-text("CSV")')]);
  assert.match(readFileSync(await csv.path(), 'utf8'), /^period,new,active,lost\r\n/);
});

test('the URL holds the view: reloading it shows the same range and split', async () => {
  const url = page.url();
  await page.reload();
  await settled('totals');
  assert.equal(page.url(), url);
  assert.equal(await page.getAttribute('.controls button[data-value="week"]', 'aria-pressed'), 'true');
  assert.equal(await page.getAttribute('.range button:has-text("90 days")', 'aria-pressed'), 'true');
});

test('switch product', async () => {
  await page.selectOption('#product', second);
  await page.waitForFunction((p) => location.hash.includes(`p=${p}`), second);
  await settled('totals');
  assert.equal(num(await page.textContent('[data-total="active"]')), 0);
  await page.selectOption('#product', server.product);
  await page.waitForFunction((p) => location.hash.includes(`p=${p}`), server.product);
  await settled('totals');
  assert.ok(num(await page.textContent('[data-total="active"]')) > 0);
});
