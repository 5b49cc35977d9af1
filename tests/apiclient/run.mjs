// Starts a real shopeasy-cloud on a free loopback port (SQLite, sandbox payments and
// SMS) and runs the compiled journey (journey.ts) against it. Prints what each step did;
// exits non-zero if any step fails. Usage: node run.mjs BIN_DIR JOURNEY_JS LOG_FILE
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [binDir, journeyJs, logFile] = process.argv.slice(2);
if (!binDir || !journeyJs || !logFile) {
  console.error('usage: node run.mjs BIN_DIR JOURNEY_JS LOG_FILE');
  process.exit(2);
}

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.on('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'shopeasy-api-client-'));
const port = await freePort();
const adminToken = randomBytes(24).toString('hex');
const tokens = [{ name: 'operator', role: 'admin', sha256: createHash('sha256').update(adminToken).digest('hex') }];
const log = fs.openSync(logFile, 'w');
const cloud = spawn(path.join(binDir, 'shopeasy-cloud'), [
  `--http.port=${port}`, `--state_dir=${state}`, `--auth.tokens=${JSON.stringify(tokens)}`,
  '--payments.provider=sandbox', '--accounts.sms_provider=sandbox', '--http.rate_limit_per_s=0',
], { stdio: ['ignore', log, log] });
const exited = new Promise((r) => cloud.on('exit', (code, signal) => r({ code, signal })));
process.on('exit', () => { if (cloud.exitCode === null && cloud.signalCode === null) cloud.kill('SIGKILL'); });

const base = `http://127.0.0.1:${port}`;
const deadline = Date.now() + 20000;
for (;;) {
  const up = await fetch(`${base}/health`).then((r) => r.ok, () => false);
  if (up) break;
  if (Date.now() > deadline || cloud.exitCode !== null) {
    console.error(`shopeasy-cloud did not answer /health (log: ${logFile})`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 50));
}

let failed = false;
try {
  const { journey } = await import(pathToFileURL(path.resolve(journeyJs)).href);
  const started = Date.now();
  const figures = await journey({ baseUrl: base, adminToken, phone: '+919812345678', log: (l) => console.log(l) });
  console.log(`api client journey: ${figures.steps} steps in ${Date.now() - started} ms through the generated client; order ${figures.orderId} at ${figures.totalCents} paise (fees ${figures.feeCents})`);
} catch (e) {
  failed = true;
  console.error(`api client journey FAILED: ${e.stack || e}`);
}
cloud.kill('SIGTERM');
const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 10000))]);
if (!end) cloud.kill('SIGKILL');
fs.rmSync(state, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
