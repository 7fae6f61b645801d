// End-to-end tests of the built app (dist/, from `trunk build --release`) in
// headless Chromium: once with WebGPU (SwiftShader) and once without it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { serveDist, launch, watchErrors, makePng, pattern, canvasPixels, decodeInPage } from './harness.mjs';

// Starting WebGPU and the CPU backend on software is slow; generous but bounded.
const DEVICE_TIMEOUT = 120_000;
const JOB_TIMEOUT = 120_000;

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

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

async function roundTripAndDownload(page, { width, height, via }) {
  const png = makePng(width, height);
  const name = `pattern-${width}x${height}.png`;
  if (via === 'drop') await dropFile(page, name, png); else await pickFile(page, name, png);
  await page.waitForSelector(`#output-canvas[data-width="${width}"][data-height="${height}"]`, { timeout: JOB_TIMEOUT });
  assertPattern(await canvasPixels(page, '#input-canvas'), width, height, 'input canvas');
  assertPattern(await canvasPixels(page, '#output-canvas'), width, height, 'output canvas');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(download.suggestedFilename(), `pattern-${width}x${height}-roundtrip.png`);
  const bytes = await fs.readFile(await download.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  assertPattern(await decodeInPage(page, bytes), width, height, 'downloaded PNG');
}

test('with WebGPU: shows the adapter, round-trips an image, downloads it, survives a bad file', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors = watchErrors(page);
    await page.goto(server.url);
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: DEVICE_TIMEOUT });
    assert.equal(await page.textContent('#device-backend'), 'WebGPU');
    assert.ok((await page.textContent('#device-adapter')).trim().length > 0, 'adapter name shown');
    assert.match(await page.textContent('#limit-max-buffer-size'), /\d+ (MiB|GiB)/);
    assert.match(await page.textContent('#limit-max-storage-buffer-binding-size'), /\d+ (MiB|GiB)/);
    assert.equal(await page.$('#cpu-fallback'), null, 'no fallback notice on WebGPU');

    // Every section is built (their own tests: style_transfer.test.mjs, image_to_image.test.mjs, training.test.mjs).
    for (const tab of ['style-transfer', 'pix2pix', 'cyclegan']) {
      await page.click(`#tab-${tab}`);
      assert.doesNotMatch(await page.textContent(`#section-${tab}`), /Not built yet/);
    }
    await page.click('#tab-image-check');

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
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('without WebGPU: explains the CPU fallback and still processes the image', async () => {
  const browser = await launch({ webgpu: false });
  try {
    const page = await browser.newPage({ acceptDownloads: true });
    const errors = watchErrors(page);
    await page.goto(server.url);
    await page.waitForSelector('#device[data-state="cpu"]', { timeout: DEVICE_TIMEOUT });
    assert.equal(await page.textContent('#device-backend'), 'CPU');
    assert.match(await page.textContent('#cpu-fallback'), /WebGPU is not available.*CPU/);
    await roundTripAndDownload(page, { width: 30, height: 18, via: 'pick' });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('?backend=cpu forces the CPU backend even where WebGPU works', async () => {
  const browser = await launch({ webgpu: true });
  try {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}?backend=cpu`);
    await page.waitForSelector('#device[data-state="cpu"]', { timeout: DEVICE_TIMEOUT });
    assert.equal(await page.$('#cpu-fallback'), null, 'a chosen CPU is not a fallback');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
