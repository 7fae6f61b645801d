// Shared helpers for the end-to-end tests: a static server for dist/, Chromium
// launch options, opening the app, a tiny PNG encoder (so the tests need no image
// fixtures), console-error collection and the steps every section's jobs share.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
// AI_ART_DIST serves another build (a copy, for a long run while dist/ is rebuilt).
export const DIST = path.resolve(process.env.AI_ART_DIST ?? path.resolve(here, '../../dist'));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The Content-Security-Policy `scripts/serve.sh` sends (Trunk.toml's `[serve] headers`): every
 * end-to-end test runs the app under it.
 */
export async function contentSecurityPolicy() {
  const toml = await fs.readFile(path.resolve(here, '../../Trunk.toml'), 'utf8');
  const line = toml.match(/^headers = \{ "Content-Security-Policy" = "([^"]+)" \}$/m);
  if (!line) throw new Error('Trunk.toml has no one-line `headers = { "Content-Security-Policy" = "..." }` in [serve]');
  return line[1];
}

/** Serves dist/ on 127.0.0.1 (a secure context, which WebGPU needs), under the app's CSP. */
export async function serveDist() {
  await fs.access(path.join(DIST, 'index.html')).catch(() => {
    throw new Error(`${DIST}/index.html is missing: build the app first (trunk build --release)`);
  });
  const csp = await contentSecurityPolicy();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let file = path.normalize(path.join(DIST, decodeURIComponent(url.pathname)));
    if (!file.startsWith(DIST)) { res.writeHead(403).end(); return; }
    try {
      if ((await fs.stat(file)).isDirectory()) file = path.join(file, 'index.html');
      const body = await fs.readFile(file);
      res.writeHead(200, {
        'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
        'content-security-policy': csp,
      });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  // Closing also drops kept-alive connections, so the page finds the server gone at once.
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); }) };
}

/**
 * Serves dist/ to the tests of the calling file: started before them (`before`) and closed
 * after them (`after`). The returned object's `url` is set once the server runs.
 */
export function serveDistForTests() {
  const server = { url: undefined };
  let running;
  before(async () => { running = await serveDist(); server.url = running.url; });
  after(async () => { await running?.close(); });
  return server;
}

const BASE_FLAGS = [
  '--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader', '--enable-unsafe-swiftshader',
];

/**
 * Debian's Chromium; with `webgpu: false` it gets no WebGPU adapter. `args`: more
 * command-line flags (a fake camera).
 */
export function launch({ webgpu, args = [] }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : ['--disable-gpu']), ...args],
  });
}

/** Launches Chromium (options as `launch`'s), runs `body(browser)` and closes the browser, whatever happens. */
export async function withBrowser(options, body) {
  const browser = await launch(options);
  try {
    return await body(browser);
  } finally {
    await browser.close();
  }
}

// The app's service worker (static/sw.js) precaches the whole build, the 45 MB model
// included, and answers the page from its cache: the tests keep it off unless they are about
// it (offline.test.mjs passes `serviceWorkers: 'allow'`), so what they measure is the app.
const NO_SERVICE_WORKER = { serviceWorkers: 'block' };

/**
 * As `withBrowser`, with a fresh browser context: `body(context)`; the other options are
 * `newContext`'s. The context is closed first, then the browser.
 */
export async function withContext({ webgpu, args, ...contextOptions }, body) {
  return withBrowser({ webgpu, args }, async (browser) => {
    const context = await browser.newContext({ ...NO_SERVICE_WORKER, ...contextOptions });
    try {
      return await body(context);
    } finally {
      await context.close();
    }
  });
}

// Starting WebGPU or the CPU backend on software is slow; generous but bounded.
export const DEVICE_TIMEOUT = 120_000;

/** The selector of the element with `data-testid="<id>"`. */
export const $ = (id) => `[data-testid="${id}"]`;

/**
 * A new page of `target` (a browser or a context; `pageOptions` as `newPage`'s) with its
 * errors recorded (`watchErrors`), at `url`, once the device banner shows the backend
 * `device` ('gpu' or 'cpu', or a list of them: any of those).
 */
export async function openPage(target, url, { device = 'gpu', pageOptions } = {}) {
  // A browser makes a context for the page (the service worker off, as in `withContext`).
  const page = await ('newContext' in target ? target.newPage({ ...NO_SERVICE_WORKER, ...pageOptions }) : target.newPage());
  const errors = watchErrors(page);
  await page.goto(url);
  const banner = [device].flat().map((d) => `#device[data-state="${d}"]`).join(', ');
  await page.waitForSelector(banner, { timeout: DEVICE_TIMEOUT });
  return { page, errors };
}

/** `openPage` on WebGPU, then the section `tab`, once its panel (test id `panel`) shows. */
export async function openSection(target, url, { tab, panel, pageOptions }) {
  const { page, errors } = await openPage(target, url, { pageOptions });
  await page.click(`#tab-${tab}`);
  await page.waitForSelector($(panel));
  return { page, errors };
}

/** Drops a file on the drop zone holding the input `testid`, as a user dragging it would. */
export async function dropOn(page, testid, name, buffer, type = 'image/png') {
  await page.evaluate(({ testid, name, b64, type }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type }));
    const zone = document.querySelector(`[data-testid="${testid}"]`).closest('.dropzone');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { testid, name, b64: buffer.toString('base64'), type });
}

/**
 * Destroys the worker's GPU device from the diagnostics (as a driver reset would lose it) and
 * goes back to section `tab`.
 */
export function loseDevice(page, tab) {
  return diagnosticsButton(page, 'lose-device', tab);
}

/**
 * Reports an out-of-memory error on the worker's GPU device from the diagnostics (as the
 * browser reports a buffer it could not make) and goes back to section `tab`.
 */
export function exhaustMemory(page, tab) {
  return diagnosticsButton(page, 'exhaust-memory', tab);
}

/**
 * Has the worker write to storage slowly from now on (a training checkpoint takes five
 * seconds) and goes back to section `tab`.
 */
export function slowWrites(page, tab) {
  return diagnosticsButton(page, 'slow-writes', tab);
}

async function diagnosticsButton(page, testid, tab) {
  await page.click('#tab-start');
  await page.$eval('[data-testid="diagnostics"]', (d) => { d.open = true; });
  await page.click(`[data-testid="${testid}"]`);
  await page.click(`#tab-${tab}`);
}

/**
 * Waits until the job status (test id `status`) is gone and returns the text of the error
 * (test id `error`) the section shows then, or null when it shows none.
 */
export async function waitJobEnd(page, { status, error, timeout }) {
  await page.waitForFunction((sel) => !document.querySelector(sel), $(status), { timeout });
  return (await page.$($(error))) ? page.textContent($(error)) : null;
}

/**
 * Clicks the download button `selector`, checks the file's suggested name (`filename`) and
 * that it is a PNG, and returns it decoded by the page (`decodeInPage`).
 */
export async function downloadPng(page, selector, filename) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  assert.equal(download.suggestedFilename(), filename);
  const bytes = await fs.readFile(await download.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  return decodeInPage(page, bytes);
}

/** Records console errors and uncaught exceptions of a page and its workers. */
export function watchErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') errors.push(`worker console: ${m.text()}`); }));
  return errors;
}

function crc32(buf) {
  return zlib.crc32(buf) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** RGB pixel at (x, y) of the test pattern: distinct values, non-square. */
export function pattern(x, y) {
  return [(x * 7) % 256, (y * 13) % 256, (x * y + 40) % 256];
}

/** An 8-bit RGB PNG of `pattern`, width x height. */
export function makePng(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const o = y * (width * 3 + 1) + 1 + x * 3;
      const [r, g, b] = pattern(x, y);
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Pixels of a canvas, as [r, g, b] triples, read in the page. */
export async function canvasPixels(page, selector) {
  return page.$eval(selector, (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const px = [];
    for (let i = 0; i < d.length; i += 4) px.push([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    return { width: c.width, height: c.height, px };
  });
}

/** Decodes PNG bytes in the page (the browser's own decoder) to RGBA triples. */
export async function decodeInPage(page, bytes) {
  return page.evaluate(async (b64) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bin], { type: 'image/png' }));
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    const px = [];
    for (let i = 0; i < d.length; i += 4) px.push([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    return { width: bmp.width, height: bmp.height, px };
  }, Buffer.from(bytes).toString('base64'));
}

/**
 * How a Hugging Face-like file server answers a request for `url` with `range` (or none):
 * CORS on every answer; a URL ending in one of `ranged` honours `Range: bytes=a-b` (206, part
 * of `file`); any other URL answers `file` whole (200), as a server that ignores `Range`.
 */
function fileAnswer(file, url, method, range, ranged) {
  const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'content-range, content-length' };
  if (method === 'OPTIONS') {
    return { status: 204, headers: { ...cors, 'access-control-allow-headers': 'range', 'access-control-allow-methods': 'GET' } };
  }
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
  if (ranged.some((end) => url.endsWith(end)) && m) {
    const [a, b] = [Number(m[1]), Math.min(Number(m[2]), file.length - 1)];
    return {
      status: 206,
      body: file.subarray(a, b + 1),
      headers: { ...cors, 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes',
        'content-range': `bytes ${a}-${b}/${file.length}`, 'content-length': String(b - a + 1) },
    };
  }
  return { status: 200, body: file, headers: { ...cors, 'content-type': 'application/octet-stream', 'content-length': String(file.length) } };
}

/**
 * Plays a Hugging Face-like file server (`fileAnswer`) at `pattern` (a route glob) in
 * `context`. Each request's `{ url, range }` is pushed to `requests`. With `redirectTo` (the
 * origin of `serveFileElsewhere`), it answers every GET with a redirect to the same path
 * there, as huggingface.co redirects downloads to its CDN (pushed with `redirected: true`).
 */
export async function routeSafetensors(context, pattern, file, { ranged = [], requests = [], redirectTo } = {}) {
  await context.route(pattern, async (route) => {
    const req = route.request();
    const url = req.url();
    const range = (await req.allHeaders())['range'];
    if (redirectTo && req.method() !== 'OPTIONS') {
      requests.push({ url, range, redirected: true });
      const location = `${redirectTo}${new URL(url).pathname}`;
      return route.fulfill({ status: 302, headers: { 'access-control-allow-origin': '*', location } });
    }
    if (req.method() !== 'OPTIONS') requests.push({ url, range });
    return route.fulfill(fileAnswer(file, url, req.method(), range, ranged));
  });
  return requests;
}

/**
 * A file server of its own (`fileAnswer`, over HTTPS on another port of 127.0.0.1, so another
 * origin than the app's), which the browser reaches for real: the target of a redirect, which
 * Playwright's routing does not see from a worker. Its certificate is self-signed
 * (`tests/fixtures/tls/`): the context needs `ignoreHTTPSErrors`. Each request's
 * `{ url, range }` is pushed to `requests`; `close()` stops it.
 */
export async function serveFileElsewhere(file, { ranged = [], requests = [] } = {}) {
  const tls = path.resolve(here, '../fixtures/tls');
  const [key, cert] = await Promise.all([fs.readFile(path.join(tls, 'key.pem')), fs.readFile(path.join(tls, 'cert.pem'))]);
  const server = https.createServer({ key, cert }, (req, res) => {
    const url = `https://127.0.0.1:${server.address().port}${req.url}`;
    const range = req.headers.range;
    if (req.method !== 'OPTIONS') requests.push({ url, range });
    const answer = fileAnswer(file, url, req.method, range, ranged);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `https://127.0.0.1:${server.address().port}`;
  return { origin, requests, close: () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); }) };
}
