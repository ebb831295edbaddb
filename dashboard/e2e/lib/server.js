// A real Usagi server with simulated data for the browser tests: `usagi demo` on a free port
// in a fresh data directory, plus the admin commands and call-home calls the tests need.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The `usagi` binary: $USAGI_BIN, else the debug build in $CARGO_TARGET_DIR. */
export function binary() {
  if (process.env.USAGI_BIN) return process.env.USAGI_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.resolve(import.meta.dirname, '../../../target');
  return path.join(target, 'debug', 'usagi');
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `usagi demo` and waits until its fleet is loaded. Resolves to
 * `{ base, email, password, product, secret, dataDir, cli(args), callhome(action, body), stop() }`.
 */
export async function startDemo({ installs = 400, days = 120 } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'usagi-e2e-'));
  rmSync(dataDir, { recursive: true, force: true });
  const port = await freePort();
  const bin = binary();
  const env = { ...process.env, USAGI_DATA_DIR: dataDir, USAGI_LOG: 'warn' };
  const child = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--installs', String(installs), '--days', String(days)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not load in time:\n${out}\n${err}`)), 300_000);
    const check = () => {
      if (/demo fleet loaded/.test(err) && /user\s+\S+ \/ \S+/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
      if (/demo fleet failed/.test(err)) reject(new Error(err));
    };
    child.stdout.on('data', (d) => { out += d; check(); });
    child.stderr.on('data', (d) => { err += d; check(); });
    child.once('exit', (code) => reject(new Error(`usagi demo exited with ${code}:\n${out}\n${err}`)));
  });
  await ready;
  const [, email, password] = /user\s+(\S+) \/ (\S+)/.exec(out);
  const [, product, secret] = /product\s+(\d{10}) \(.*\), secret ([0-9a-f]{32})/.exec(out);
  const base = `http://127.0.0.1:${port}`;
  const cli = (args) => execFileSync(bin, args, { env, encoding: 'utf8' });
  const callhome = async (action, body) => {
    const raw = JSON.stringify(body);
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = createHmac('sha256', Buffer.from(secret, 'hex')).update(`${ts}.${raw}`).digest('hex');
    const r = await fetch(`${base}/callhome/v1/${product}/${action}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Timestamp': ts, 'X-Signature': `v1=${sig}` },
      body: raw,
    });
    if (!r.ok) throw new Error(`callhome ${action}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  // A bearer token for checks from Node, and a wait until the warehouse has loaded every
  // acknowledged batch: until then each report waits up to read_your_writes_ms (2 s).
  const { token } = JSON.parse(cli(['token', 'create', '--user', email]));
  const bearer = async (method, p, body) => {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: r.status === 204 ? null : await r.json() };
  };
  for (let fast = 0, tries = 0; fast < 3 && tries < 600; tries += 1) {
    const t0 = Date.now();
    await bearer('POST', `/v3/reporting/generic/dateRange/${product}`, { startDate: 'NOW-29', stopDate: 'NOW', clientStatus: ['active'] });
    fast = Date.now() - t0 < 300 ? fast + 1 : 0;
  }
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, email, password, product, secret, dataDir, cli, callhome, bearer, stop };
}
