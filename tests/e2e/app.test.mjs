// End-to-end tests of the built app (dist/, from `trunk build --release`) in
// headless Chromium: once with WebGPU (SwiftShader) and once without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveDistForTests, withBrowser, withContext, openPage, downloadPng, makePng, pattern, canvasPixels } from './harness.mjs';

const JOB_TIMEOUT = 120_000;

const server = serveDistForTests();

function assertPattern(img, width, height, what) {
  assert.equal(img.width, width, `${what}: width`);
  assert.equal(img.height, height, `${what}: height`);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const got = img.px[y * width + x];
      const want = pattern(x, y);
      assert.deepEqual(got.slice(0, 3), want, `${what}: pixel (${x}, ${y})`);
      assert.equal(got[3], 255, `${what}: alpha at (${x}, ${y})`);
    }
  }
}

async function pickFile(page, name, buffer, mimeType = 'image/png') {
  await page.setInputFiles('#image-input', { name, mimeType, buffer });
}

async function dropFile(page, name, buffer, mimeType = 'image/png') {
  await page.evaluate(({ name, b64, mimeType }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: mimeType }));
    const zone = document.querySelector('.dropzone');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { name, b64: buffer.toString('base64'), mimeType });
}


/** The image check: on the start view, in the diagnostics fold. */
async function openDiagnostics(page) {
  await page.click('#tab-start');
  await page.$eval('[data-testid="diagnostics"]', (d) => { d.open = true; });
}
/** Presses "Memory now" in the diagnostics and says what the readout holds. */
async function readMemory(page) {
  await page.click('[data-testid="memory-sample"]');
  const memory = await page.waitForSelector('[data-testid="memory"]', { timeout: JOB_TIMEOUT });
  const m = await memory.evaluate((e) => ({ wasm: Number(e.dataset.wasm), inUse: e.dataset.gpuInUse, reserved: e.dataset.gpuReserved }));
  return {
    wasm: m.wasm >= 1 << 20,
    gpu: Number(m.reserved) > 0,
    inUseWithinReserved: m.reserved !== '' && Number(m.inUse) <= Number(m.reserved),
  };
}
async function roundTripAndDownload(page, { width, height, via }) {
  await openDiagnostics(page);
  const png = makePng(width, height);
  const name = `pattern-${width}x${height}.png`;
  if (via === 'drop') await dropFile(page, name, png); else await pickFile(page, name, png);
  await page.waitForSelector(`#output-canvas[data-width="${width}"][data-height="${height}"]`, { timeout: JOB_TIMEOUT });
  assertPattern(await canvasPixels(page, '#input-canvas'), width, height, 'input canvas');
  assertPattern(await canvasPixels(page, '#output-canvas'), width, height, 'output canvas');
  const downloaded = await downloadPng(page, '#download', `pattern-${width}x${height}-roundtrip.png`);
  assertPattern(downloaded, width, height, 'downloaded PNG');
}

test('with WebGPU: shows the adapter, round-trips an image, downloads it, survives a bad file', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openPage(browser, server.url, { pageOptions: { acceptDownloads: true } });
    assert.equal(await page.textContent('#device-backend'), 'WebGPU');
    assert.ok((await page.textContent('#device-adapter')).trim().length > 0, 'adapter name shown');
    assert.match(await page.textContent('#limit-max-buffer-size'), /\d+ (MiB|GiB)/);
    assert.match(await page.textContent('#limit-max-storage-buffer-binding-size'), /\d+ (MiB|GiB)/);
    assert.equal(await page.$('#cpu-fallback'), null, 'no fallback notice on WebGPU');

    // Every section is built (their own tests: style_transfer.test.mjs, image_to_image.test.mjs, training.test.mjs).
    for (const tab of ['style-transfer', 'deep-dream', 'pix2pix', 'cyclegan']) {
      await page.click(`#tab-${tab}`);
      assert.doesNotMatch(await page.textContent(`#section-${tab}`), /Not built yet/);
    }
    await openDiagnostics(page);

    // Non-square, odd sizes: the aspect ratio and every pixel must survive.
    await roundTripAndDownload(page, { width: 47, height: 23, via: 'pick' });

    // A corrupt file gets a readable message...
    const png = makePng(32, 32);
    await pickFile(page, 'broken.png', png.subarray(0, png.length - 40));
    await page.waitForSelector('#error', { timeout: JOB_TIMEOUT });
    assert.match(await page.textContent('#error'), /broken\.png: .*corrupt/);
    // ...so does a file that is not an image...
    await pickFile(page, 'notes.txt', Buffer.from('just some text'), 'text/plain');
    await page.waitForFunction(() => /notes\.txt: unsupported image format/.test(document.querySelector('#error')?.textContent ?? ''), null, { timeout: JOB_TIMEOUT });
    // ...and the app stays usable: the next image (dropped this time) works.
    await roundTripAndDownload(page, { width: 20, height: 36, via: 'drop' });
    assert.equal(await page.$('#error'), null, 'error cleared after a good image');
    // The memory readout: the worker's wasm memory, and the GPU memory Burn holds after those jobs.
    assert.deepEqual(await readMemory(page), { wasm: true, gpu: true, inUseWithinReserved: true });
    assert.deepEqual(errors, []);
  });
});

test('without WebGPU: explains the CPU fallback and still processes the image', async () => {
  await withBrowser({ webgpu: false }, async (browser) => {
    const { page, errors } = await openPage(browser, server.url, { device: 'cpu', pageOptions: { acceptDownloads: true } });
    assert.equal(await page.textContent('#device-backend'), 'CPU');
    assert.match(await page.textContent('#cpu-fallback'), /WebGPU is not available.*CPU/);
    await roundTripAndDownload(page, { width: 30, height: 18, via: 'pick' });
    // On the CPU there is no GPU memory to report.
    assert.deepEqual(await readMemory(page), { wasm: true, gpu: false, inUseWithinReserved: false });
    assert.deepEqual(errors, []);
  });
});

test('?backend=cpu forces the CPU backend even where WebGPU works', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openPage(browser, `${server.url}?backend=cpu`, { device: 'cpu' });
    assert.equal(await page.$('#cpu-fallback'), null, 'a chosen CPU is not a fallback');
    assert.deepEqual(errors, []);
  });
});

test('the app runs under its Content-Security-Policy: no inline script or style, and nothing refused', async () => {
  await withContext({ webgpu: true }, async (context) => {
    // Every violation the page reports, from before its first script runs.
    await context.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
    const { page, errors } = await openPage(context, server.url);
    const { csp, html } = await page.evaluate(async () => {
      const r = await fetch('./');
      return { csp: r.headers.get('content-security-policy'), html: await r.text() };
    });
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|nonce/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'index.html has no inline script');
    // The page and the worker started (wasm compiled in both, WebGPU up); every section renders.
    for (const tab of ['start', 'style-transfer', 'deep-dream', 'pix2pix', 'cyclegan', 'training']) {
      await page.click(`#tab-${tab}`);
      await page.waitForSelector(`#section-${tab}`);
    }
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(errors, []);
    // The policy is enforced, so the check above can fail: an inline script and an inline
    // style are refused and reported.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.append(s);
      document.body.setAttribute('style', 'outline: 1px solid red');
    });
    await page.waitForFunction(() => window.__violations.length >= 2);
    assert.equal(await page.evaluate(() => window.__inlineRan), undefined);
    const refused = await page.evaluate(() => window.__violations);
    assert.ok(refused.some((v) => v.startsWith('script-src-elem inline')), `${refused}`);
    assert.ok(refused.some((v) => v.startsWith('style-src-attr inline')), `${refused}`);
  });
});

test('a crashed worker is noticed and replaced: the running job ends with the reason, the studio works again without a reload', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openPage(browser, server.url, { pageOptions: { acceptDownloads: true } });
    await openDiagnostics(page);
    // A round trip of a large image is running when the worker panics.
    const png = makePng(2400, 1800);
    await pickFile(page, 'large.png', png);
    await page.waitForSelector('#progress', { timeout: JOB_TIMEOUT });
    await page.click('[data-testid="crash-worker"]');
    await page.waitForSelector('[data-testid="worker-crashed"]', { timeout: JOB_TIMEOUT });
    assert.match(await page.textContent('[data-testid="worker-crashed"]'),
      /The compute worker crashed: crashed on purpose from the diagnostics \(at src\/worker\/mod\.rs:\d+\)\. A new one has been started/);
    assert.match(await page.textContent('#error'), /The compute worker crashed: crashed on purpose/);
    assert.equal(await page.$('#progress'), null, 'the job ended');
    // The new worker starts the device again, and the studio works.
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: JOB_TIMEOUT });
    await roundTripAndDownload(page, { width: 21, height: 13, via: 'pick' });
    // A worker that keeps crashing is not restarted forever: the third crash in a minute is final.
    await page.click('[data-testid="crash-worker"]');
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: JOB_TIMEOUT });
    await page.click('[data-testid="crash-worker"]');
    await page.waitForFunction(() => /crashed 3 times within a minute.*reload the page/.test(document.querySelector('#device')?.textContent ?? ''), null, { timeout: JOB_TIMEOUT });
    // The panics are logged on the worker's console, and nothing else is wrong.
    assert.deepEqual(errors.filter((e) => !/crashed on purpose|unreachable|RuntimeError/.test(e)), []);
  });
});
