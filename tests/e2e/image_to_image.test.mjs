// End-to-end tests of the CycleGAN and Pix2Pix sections (dist/ from `trunk build --release`,
// which copies the built-in model from .tools/models/, see scripts/fetch-models.sh) in
// headless Chromium on WebGPU (SwiftShader). Nothing is downloaded from the internet: the
// official catalog's server is played by Playwright's request routing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  serveDistForTests, withBrowser, withContext, openPage, openSection, waitJobEnd, downloadPng, $,
  makePng, canvasPixels, decodeInPage,
} from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../fixtures');
// Loading the 45 MB ResNet-9 and running it on SwiftShader (a CPU) takes a while: since the
// convolutions are our tiled WGSL (two barriers per K step, which SwiftShader runs as
// coroutine switches) the 128x96 translation takes about 3.5 minutes on an idle 2-core
// machine, so a job may take up to 10.
const LOAD_TIMEOUT = 180_000;
const JOB_TIMEOUT = 600_000;

const server = serveDistForTests();

/** The tensors of a small float32 safetensors file. */
function readSafetensors(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    assert.equal(t.dtype, 'F32');
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(8 + n + a, 8 + n + b);
    out[name] = { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
  }
  return out;
}

/** Deterministic "random" bytes that no checkpoint reader recognises. */
function noise(n) {
  const b = Buffer.alloc(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; b[i] = s >>> 24; }
  b[0] = 0x42; // not a zip (PK), a pickle (0x80) or a safetensors header
  return b;
}

function openTab(browser, tab) {
  return openSection(browser, server.url, { tab, panel: `${tab}-panel`, pageOptions: { acceptDownloads: true } });
}

async function pickModel(page, name, buffer) {
  await page.setInputFiles($('model-file'), { name, mimeType: 'application/octet-stream', buffer });
}

async function pickImage(page, name, buffer) {
  await page.setInputFiles($('image-input'), { name, mimeType: 'image/png', buffer });
}

/** Waits for the loaded-model line to name `name`. */
async function waitLoaded(page, name) {
  await page.waitForFunction(
    (n) => { const el = document.querySelector('[data-testid="model-description"]'); return el?.dataset.state === 'loaded' && el.textContent.includes(n); },
    name, { timeout: LOAD_TIMEOUT },
  );
  return page.textContent($('model-description'));
}

/** Waits until the section has no job running and returns the error shown, if any. */
function waitIdle(page) {
  return waitJobEnd(page, { status: 'status', error: 'error', timeout: JOB_TIMEOUT });
}

async function waitError(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid="error"]')?.textContent ?? ''),
    re.source, { timeout: LOAD_TIMEOUT });
  assert.equal(await page.$($('status')), null, 'no job left running');
  return page.textContent($('error'));
}

/** Translates `png` (width x height) and waits for an output of that size. */
async function translateImage(page, name, png, width, height) {
  const t0 = Date.now();
  await pickImage(page, name, png);
  await page.waitForSelector($('status'), { timeout: 10_000 });
  const err = await waitIdle(page);
  assert.equal(err, null, `translating ${name}: ${err}`);
  await page.waitForSelector(`${$('output-canvas')}[data-width="${width}"][data-height="${height}"]`, { timeout: 10_000 });
  return Date.now() - t0;
}

function downloadOutput(page, filename) {
  return downloadPng(page, $('download'), filename);
}

/** Records every text the download progress line shows. */
async function recordDownloadProgress(page) {
  await page.evaluate(() => {
    window.__progress = [];
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="download-progress"]');
      if (el) window.__progress.push(el.textContent);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

test('CycleGAN: the built-in model translates an image like PyTorch, bad checkpoints get readable errors, the cache serves the second load', async () => {
  const scene = await fs.readFile(path.join(FIXTURES, 'images/scene.png'));
  const reference = readSafetensors(await fs.readFile(path.join(FIXTURES, 'networks/vintagify_scene.safetensors')));
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openTab(browser, 'cyclegan');
    assert.equal(await page.$(`#section-cyclegan .not-built`), null);
    assert.match(await page.textContent($('model-description')), /No model loaded/);
    // No image before a model.
    assert.equal(await page.$eval($('image-input'), (e) => e.disabled), true);
    // Defaults: the built-in model, auto architecture and norm, fit to device.
    assert.equal(await page.$eval($('model-source'), (e) => e.value), 'builtin');
    assert.match(await page.$eval($('model-source'), (e) => e.selectedOptions[0].textContent), /Built-in: vintage photo \(vintagify, CycleGAN ResNet-9\)/);
    assert.equal(await page.$eval($('arch'), (e) => e.value), 'auto');
    assert.equal(await page.$eval($('norm'), (e) => e.value), 'auto');
    assert.equal(await page.$eval($('fit-device'), (e) => e.checked), true);
    assert.equal(await page.$($('keep-dropout')), null, 'no dropout option for CycleGAN');

    // The built-in model: downloaded with a progress bar, then described.
    await recordDownloadProgress(page);
    let t0 = Date.now();
    await page.click($('load-model'));
    const described = await waitLoaded(page, 'vintagify');
    const loadMs = Date.now() - t0;
    assert.match(described, /ResNet generator resnet_9blocks, ngf 64, instance-affine norm, 3 -> 3 channels/);
    assert.equal(await page.$eval($('model-description'), (e) => e.dataset.fromCache), 'false');
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.some((t) => /Downloading: [\d.]+ MB of 45\.\d MB \(\d+%\)/.test(t)), `progress shown: ${progress.slice(0, 3)}`);

    // scene.png (128x96): same size out, and what PyTorch computes (8-bit rounding aside).
    const translateMs = await translateImage(page, 'scene.png', scene, 128, 96);
    const want = await decodeInPage(page, scene);
    assert.deepEqual((await canvasPixels(page, $('input-canvas'))).px, want.px, 'input shown as decoded');
    const out = await canvasPixels(page, $('output-canvas'));
    const ref = reference.output.data;
    const plane = 96 * 128;
    let se = 0, maxDiff = 0;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const expected = Math.min(1, Math.max(0, (ref[c * plane + i] + 1) / 2)) * 255;
        const d = Math.abs(out.px[i][c] - expected);
        se += d * d; maxDiff = Math.max(maxDiff, d);
      }
    }
    const psnr = 10 * Math.log10((255 * 255) / (se / (3 * plane)));
    assert.ok(psnr >= 40, `output vs PyTorch: PSNR ${psnr.toFixed(1)} dB (max diff ${maxDiff.toFixed(1)})`);
    assert.equal(await page.$($('fit-note')), null, 'small enough: not scaled');
    assert.match(await page.textContent($('output-caption')), /Output, 128x96, in [\d.]+ s/);
    const png = await downloadOutput(page, 'scene-cyclegan.png');
    assert.equal(png.width, 128); assert.equal(png.height, 96);
    assert.deepEqual(png.px, out.px, 'the download is what the output canvas shows');
    console.log(`# built-in model loaded in ${loadMs} ms; scene.png translated in ${translateMs} ms; PSNR vs PyTorch ${psnr.toFixed(1)} dB`);

    // Bad checkpoints: readable errors, the loaded model stays.
    await pickModel(page, 'random.pth', noise(4096));
    assert.match(await waitError(page, /random\.pth: /), /random\.pth: not a checkpoint this studio can read/);
    const good = await fs.readFile(path.join(FIXTURES, 'networks/resnet6_instance.pth'));
    await pickModel(page, 'truncated.pth', good.subarray(0, 5000));
    assert.match(await waitError(page, /truncated\.pth: /), /truncated\.pth: .*(corrupt|truncated)/);
    await pickModel(page, 'notes.txt', Buffer.from('just some text, not a network\n'));
    assert.match(await waitError(page, /notes\.txt: /), /notes\.txt: not a checkpoint this studio can read/);
    await pickModel(page, 'netD.pth', await fs.readFile(path.join(FIXTURES, 'networks/patchgan_3ch_batch.pth')));
    assert.match(await waitError(page, /netD\.pth: /), /netD\.pth: this checkpoint holds a PatchGAN discriminator.*not a generator/);
    // Keys that do not fit the architecture asked for are reported, not guessed around.
    await page.click($('advanced') + ' summary');
    await page.selectOption($('arch'), 'resnet_9blocks');
    await pickModel(page, 'resnet6.pth', good);
    assert.match(await waitError(page, /resnet6\.pth: /), /resnet6\.pth: the checkpoint does not fit the network: \d+ missing[\s\S]*model\.1\d/);
    await page.selectOption($('arch'), 'auto');
    assert.match(await page.textContent($('model-description')), /vintagify.*resnet_9blocks/, 'the good model is still loaded');

    // The section still works: a non-square image, then a small model from a file.
    await translateImage(page, 'pattern.png', makePng(40, 28), 40, 28);
    assert.equal(await page.$($('error')), null, 'error cleared');
    await pickModel(page, 'resnet6.pth', good);
    assert.match(await waitLoaded(page, 'resnet6.pth'), /resnet_6blocks, ngf 4, instance norm/);
    await page.click($('translate-again'));
    await page.waitForSelector($('status'), { timeout: 10_000 });
    assert.equal(await waitIdle(page), null);
    const small = await downloadOutput(page, 'pattern-cyclegan.png');
    assert.equal(small.width, 40); assert.equal(small.height, 28);

    // The built-in model again: from the Cache API this time, no download.
    await recordDownloadProgress(page);
    t0 = Date.now();
    await page.click($('load-model'));
    await waitLoaded(page, 'vintagify');
    assert.equal(await page.$eval($('model-description'), (e) => e.dataset.fromCache), 'true');
    assert.match(await page.textContent($('model-description')), /from cache/);
    assert.deepEqual(await page.evaluate(() => window.__progress), [], 'nothing downloaded');
    const cached = await page.evaluate(async () => (await (await caches.open('ai-art-models-v1')).keys()).map((r) => r.url));
    assert.deepEqual(cached, [`${server.url}models/vintagify-photo2vintage.pth`]);
    console.log(`# built-in model loaded from the cache in ${Date.now() - t0} ms`);
    assert.deepEqual(errors, []);
  });
});

test('CycleGAN catalog: an official model downloads with progress and is cached; failed downloads get a do-it-yourself message', async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const weights = await fs.readFile(path.join(FIXTURES, 'networks/resnet6_instance.pth'));
    const served = [];
    // The official server, played locally: horse2zebra with CORS headers, zebra2horse missing,
    // style_monet refused.
    await context.route('https://efrosgans.eecs.berkeley.edu/**', (route) => {
      const url = route.request().url();
      served.push(url);
      if (url.endsWith('/horse2zebra.pth')) {
        return route.fulfill({ status: 200, body: weights, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream', 'content-length': String(weights.length) } });
      }
      if (url.endsWith('/zebra2horse.pth')) return route.fulfill({ status: 404, body: 'gone', headers: { 'access-control-allow-origin': '*' } });
      // A refused cross-origin response and a network failure look the same to the page
      // (fetch rejects with a TypeError); Playwright's fulfil would bypass CORS, so abort.
      return route.abort('failed');
    });
    const { page, errors } = await openPage(context, server.url);
    await page.click('#tab-cyclegan');

    await page.selectOption($('model-source'), 'catalog:horse2zebra');
    assert.match(await page.textContent($('source-description')), /Horses become zebras/);
    assert.equal(await page.$eval(`${$('source-description')} a`, (a) => a.href), 'https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth');
    await recordDownloadProgress(page);
    await page.click($('load-model'));
    assert.match(await waitLoaded(page, 'horse2zebra'), /resnet_6blocks/);
    assert.deepEqual(served, ['https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth']);
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.some((t) => /Downloading: [\d.]+ MB of 0\.2 MB/.test(t)), `progress: ${progress}`);
    await page.click($('load-model'));
    await page.waitForSelector(`${$('model-description')}[data-from-cache="true"]`, { timeout: LOAD_TIMEOUT });
    assert.equal(served.length, 1, 'the second load came from the cache');

    // HTTP errors and CORS refusals say what to do.
    await page.selectOption($('model-source'), 'catalog:zebra2horse');
    await page.click($('load-model'));
    assert.match(await waitError(page, /zebra2horse/), /HTTP 404.*Download the file yourself from https:\/\/efrosgans\.eecs\.berkeley\.edu\/cyclegan\/pretrained_models\/zebra2horse\.pth and drop it/);
    await page.selectOption($('model-source'), 'catalog:style_monet');
    await page.click($('load-model'));
    assert.match(await waitError(page, /style_monet/), /could not download style_monet \(official\): the request failed .*CORS.*Download the file yourself from .*style_monet\.pth/);
    assert.match(await page.textContent($('model-description')), /horse2zebra/, 'the loaded model stays');
    // The browser itself reports the refused responses on the console; nothing else may.
    const unexpected = errors.filter((e) => !/404|CORS|Access-Control-Allow-Origin|Failed to fetch|ERR_FAILED/.test(e));
    assert.deepEqual(unexpected, []);
  });
});

test('downloads are verified and kept honestly: a damaged built-in model is refused, a full quota is reported, a file that changed is flagged', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const OFFICIAL = 'https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth';
    const files = {
      first: await fs.readFile(path.join(FIXTURES, 'networks/resnet6_instance.pth')),
      changed: await fs.readFile(path.join(FIXTURES, 'networks/resnet6_batch.safetensors')),
    };
    let serving = 'first';
    let served = 0;
    await context.route(OFFICIAL, (route) => {
      served += 1;
      const body = files[serving];
      return route.fulfill({ status: 200, body, headers: { 'access-control-allow-origin': '*', 'content-type': 'application/octet-stream', 'content-length': String(body.length) } });
    });
    // The built-in model damaged on its way: one byte flipped in the middle.
    await context.route('**/models/vintagify-photo2vintage.pth', async (route) => {
      const response = await route.fetch();
      const body = Buffer.from(await response.body());
      body[body.length >> 1] ^= 0xff;
      return route.fulfill({ response, body });
    });
    const { page, errors } = await openPage(context, server.url);
    const cached = () => page.evaluate(async () => (await (await caches.open('ai-art-models-v1')).keys()).map((r) => r.url));
    await page.click('#tab-cyclegan');

    await page.selectOption($('model-source'), 'builtin');
    await page.click($('load-model'));
    assert.match(await waitError(page, /not the published file/),
      /Built-in: vintage photo.* is not the published file: its SHA-256 is [0-9a-f]{64}, the published one is c502cd44ca720d004f89775f593fc403acc6b36d27d65390cbe2f476f771e560.*nothing was loaded or stored/);
    assert.deepEqual(await cached(), [], 'the damaged file is not stored');

    // A quota too small for the model (CDP): it loads and works, and the user is told it was not kept.
    const cdp = await context.newCDPSession(page);
    const origin = new URL(server.url).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 20_000 });
    await page.selectOption($('model-source'), 'catalog:horse2zebra');
    await page.click($('load-model'));
    assert.match(await waitLoaded(page, 'horse2zebra'), /resnet_6blocks/);
    assert.match(await page.textContent($('model-note')), /horse2zebra \(official\) could not be kept in this browser \(.+\), so it will be downloaded again next time/);
    assert.deepEqual(await cached(), []);

    // With room again: downloaded again (nothing was kept), now stored, and the same file as before: no note.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    await page.click($('load-model'));
    await page.waitForFunction(() => document.querySelector('[data-testid="model-description"]')?.dataset.state === 'loaded' && !document.querySelector('[data-testid="model-note"]'), null, { timeout: LOAD_TIMEOUT });
    assert.equal(served, 2);
    assert.deepEqual(await cached(), [OFFICIAL]);

    // The user deletes it; the server's file changes meanwhile: the next download is flagged.
    await page.evaluate(async (url) => (await caches.open('ai-art-models-v1')).delete(url), OFFICIAL);
    serving = 'changed';
    await page.click($('load-model'));
    await page.waitForFunction(() => /batch norm/.test(document.querySelector('[data-testid="model-description"]')?.textContent ?? ''), null, { timeout: LOAD_TIMEOUT });
    assert.match(await page.textContent($('model-note')), /differs from the one downloaded here before \(SHA-256 [0-9a-f]{12}\.\.\. now, [0-9a-f]{12}\.\.\. then\): the file on the server has changed/);
    assert.equal(served, 3);
    const unexpected = errors.filter((e) => !/QuotaExceeded|quota/i.test(e));
    assert.deepEqual(unexpected, []);
  });
});

test('a fast style network (pytorch/examples layout, old checkpoint format) is recognised and stylises an image of any size', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openTab(browser, 'cyclegan');
    await pickModel(page, 'mosaic-like.pth', await fs.readFile(path.join(FIXTURES, 'networks/fast_style_small.pth')));
    assert.match(await waitLoaded(page, 'mosaic-like.pth'),
      /fast style network \(Johnson et al\., pytorch\/examples' TransformerNet\), widths 4\/8\/16, 2 residual blocks, 3 -> 3 channels/);
    // Not a multiple of 4 (the network's): padded, run and cropped back.
    await translateImage(page, 'odd.png', makePng(37, 22), 37, 22);
    const { px } = await canvasPixels(page, $('output-canvas'));
    assert.ok(new Set(px.map((p) => p.join(','))).size > 10, 'a picture, not a flat colour');
    const out = await downloadOutput(page, 'odd-cyclegan.png');
    assert.deepEqual([out.width, out.height], [37, 22]);
    assert.deepEqual(errors, []);
  });
});

test('Pix2Pix: a dropped U-Net translates; dropout at test time is on by default and can be turned off', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    const { page, errors } = await openTab(browser, 'pix2pix');
    assert.match(await page.$eval($('model-source'), (e) => e.value), /^catalog:facades_label2photo$/);
    assert.equal(await page.$eval($('keep-dropout'), (e) => e.checked), true);
    await pickModel(page, 'unet128.pth', await fs.readFile(path.join(FIXTURES, 'networks/unet128_instance.pth')));
    assert.match(await waitLoaded(page, 'unet128.pth'), /U-Net generator unet_128 \(7 levels\), ngf 2, instance norm, 3 -> 3 channels/);

    const png = makePng(48, 36);
    const run = async () => {
      await page.click($('translate-again'));
      await page.waitForSelector($('status'), { timeout: 10_000 });
      assert.equal(await waitIdle(page), null);
      return (await canvasPixels(page, $('output-canvas'))).px;
    };
    await translateImage(page, 'pattern.png', png, 48, 36);
    const a = (await canvasPixels(page, $('output-canvas'))).px;
    const b = await run();
    assert.notDeepEqual(a, b, 'dropout on: two runs differ');
    await page.uncheck($('keep-dropout'));
    const c = await run();
    const d = await run();
    assert.deepEqual(c, d, 'dropout off: deterministic');
    const out = await downloadOutput(page, 'pattern-pix2pix.png');
    assert.equal(out.width, 48); assert.equal(out.height, 36);
    assert.deepEqual(errors, []);
  });
});
