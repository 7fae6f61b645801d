// `scripts/serve.sh` runs `trunk serve` with Trunk.toml: check that trunk sends the studio's
// Content-Security-Policy with what it serves and adds no script of its own (its auto-reload
// is off). A page without Rust (tests/e2e/serve/index.html) stands in for the app, so trunk
// builds it in a second; the settings, the post_build hook and the trunk are the real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentSecurityPolicy } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');

async function freePort() {
  const probe = net.createServer();
  await new Promise((ok) => probe.listen(0, '127.0.0.1', ok));
  const { port } = probe.address();
  await new Promise((ok) => probe.close(ok));
  return port;
}

test('trunk serve sends the Content-Security-Policy and adds no script of its own', { timeout: 120_000 }, async () => {
  const csp = await contentSecurityPolicy();
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|nonce/);
  const dist = await fs.mkdtemp(path.join(os.tmpdir(), 'serve-check-'));
  const port = await freePort();
  const trunk = spawn('trunk', ['serve', 'tests/e2e/serve/index.html', '--dist', dist, '--offline',
    '--address', '127.0.0.1', '--port', String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  trunk.stdout.on('data', (d) => { log += d; });
  trunk.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((ok) => trunk.on('exit', (code) => ok(code)));
  try {
    const base = `http://127.0.0.1:${port}/`;
    let page;
    for (const deadline = Date.now() + 90_000; !page;) {
      if (trunk.exitCode !== null) assert.fail(`trunk serve exited (${trunk.exitCode}):\n${log}`);
      if (Date.now() > deadline) assert.fail(`trunk serve did not answer in 90 s:\n${log}`);
      page = await fetch(base).then((r) => (r.ok ? r : undefined), () => undefined);
      if (!page) await new Promise((ok) => setTimeout(ok, 250));
    }
    assert.equal(page.headers.get('content-security-policy'), csp);
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `an inline script in\n${html}`);
    // The start-up script post-build.mjs moved into a file, and the service worker, come with
    // the same policy (a worker runs under the policy of its own script).
    // Only the page's own script: trunk's auto-reload script, which post-build.mjs would also
    // move into a file, cannot work there (trunk fills in its address only in HTML).
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    assert.equal(scripts.length, 1, `one script in\n${html}`);
    const start = html.match(/<script type="module" src="\.\/(start-[0-9a-f]{16}\.js)"><\/script>/);
    assert.ok(start, `the start-up script as a file in\n${html}`);
    for (const file of [start[1], 'sw.js']) {
      const r = await fetch(base + file);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('content-security-policy'), csp, file);
    }
  } finally {
    process.kill(-trunk.pid, 'SIGTERM');
    await exited;
    await fs.rm(dist, { recursive: true, force: true });
  }
});
