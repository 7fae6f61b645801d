// End-to-end tests of the Style Transfer section (dist/ from `trunk build --release`) in
// headless Chromium on WebGPU (SwiftShader). The VGG19 weights are the small random-weight
// fixture (`tests/fixtures/networks/vgg19_small.pth`, widths 4-32; the real network is 548 MB)
// and its safetensors conversion (`tests/fixtures/nst/vgg19_small.safetensors`, written from
// the .pth with torch + safetensors' `save_file`). The hyper-parameters are those of the NST
// fixtures (tests/fixtures/nst/nst_adam.json), which visibly change the image with this VGG.
// A Hugging Face server is played by Playwright's request routing, honouring `Range`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropOn, exhaustMemory, serveDistForTests, withContext, openPage, openSection, waitJobEnd, downloadPng, $, canvasPixels, routeSafetensors, loseDevice } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../fixtures');
const RUN_TIMEOUT = 300_000;

const server = serveDistForTests();

const fixture = (p) => fs.readFile(path.join(FIXTURES, p));

function openStylize(context) {
  return openSection(context, server.url, { tab: 'style-transfer', panel: 'stylize-panel' });
}

async function dropImages(page) {
  await dropOn(page, 'content-input', 'content.png', await fixture('nst/content.png'));
  await page.waitForFunction(() => document.querySelector('[data-testid="content-preview"]')?.naturalWidth === 40);
  await dropOn(page, 'style-input', 'style.png', await fixture('nst/style.png'));
  await page.waitForFunction(() => document.querySelector('[data-testid="style-preview-0"]')?.naturalWidth > 0);
}

/** The fixture's content and style images, then the small VGG19, once it has loaded. */
async function dropImagesAndVgg(page) {
  await dropImages(page);
  await dropOn(page, 'vgg-file', 'vgg19_small.pth', await fixture('networks/vgg19_small.pth'), 'application/octet-stream');
  await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
}

/** The fixture's hyper-parameters, and a size and step count for a quick run. */
async function setUp(page, { steps, contentLayer = 'conv4_2', styleLayers = 'conv1_1,conv2_1,conv3_1,conv4_1,conv5_1', previewEvery = 5 }) {
  await page.fill($('size'), '40');
  await page.fill($('steps'), String(steps));
  await page.$eval($('stylize-advanced'), (d) => { d.open = true; });
  await page.selectOption($('optimizer'), 'adam');
  await page.fill($('lr'), '0.02');
  await page.fill($('alpha'), '1');
  await page.fill($('beta'), '1');
  await page.fill($('gamma'), '0.01');
  await page.selectOption($('pooling'), 'max');
  await page.selectOption($('content-layer'), contentLayer);
  await page.fill($('style-layers'), styleLayers);
  await page.fill($('preview-every'), String(previewEvery));
}

const step = (page) => page.$eval($('stylize-step'), (e) => Number(e.dataset.step));
const total = (page) => page.$eval($('loss-total'), (e) => Number(e.dataset.value));

async function waitStep(page, atLeast) {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="stylize-step"]')?.dataset.step) >= n,
    atLeast, { timeout: RUN_TIMEOUT });
}

/** Waits for the run to end and returns the result's attributes. */
async function waitResult(page) {
  const err = await waitJobEnd(page, { status: 'stylize-status', error: 'stylize-error', timeout: RUN_TIMEOUT });
  assert.equal(err, null, `the run failed: ${err}`);
  return page.$eval($('stylize-result'), (e) => ({ cancelled: e.dataset.cancelled === 'true', stepsDone: Number(e.dataset.stepsDone) }));
}

function downloadResult(page, filename) {
  return downloadPng(page, $('stylize-download'), filename);
}

function meanAbsDiff(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) for (let c = 0; c < 3; c++) s += Math.abs(a[i][c] - b[i][c]);
  return s / (a.length * 3);
}

test('style transfer: live steps, losses and preview; pause and resume; download; a cancelled run ends cleanly', async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openStylize(context);
    assert.equal(await page.$('#section-style-transfer .not-built'), null);
    // Defaults: as the CLI's.
    assert.equal(await page.inputValue($('size')), '384');
    assert.equal(await page.inputValue($('steps')), '300');
    assert.equal(await page.inputValue($('pooling')), 'avg');
    assert.equal(await page.inputValue($('content-layer')), 'conv4_2');
    assert.equal(await page.inputValue($('vgg-url')), '');
    assert.equal(await page.$eval($('preserve-colors'), (e) => e.checked), false);
    assert.match(await page.textContent('.vgg-source'), /not bundled.*548 MB.*vgg19-dcbb9e9d\.pth.*only the layers a run needs/s);
    assert.equal(await page.$eval($('start'), (e) => e.disabled), true, 'nothing to run yet');

    await dropImagesAndVgg(page);
    assert.match(await page.textContent($('vgg-description')), /vgg19_small\.pth: VGG19 features, 16 of 16 convolutions, widths \[4, 8, 16, 32, 32\]/);
    await setUp(page, { steps: 30 });

    // Run 1: 30 steps, watched as it goes.
    const t0 = Date.now();
    await page.click($('start'));
    await page.waitForSelector(`${$('preview-figure')}[data-step="0"]`, { timeout: RUN_TIMEOUT });
    const initial = await canvasPixels(page, $('stylize-preview'));
    assert.deepEqual([initial.width, initial.height], [40, 32]);
    await waitStep(page, 1);
    assert.equal(await page.$eval($('stylize-step'), (e) => e.dataset.steps), '30');
    assert.match(await page.textContent($('stylize-step')), /Step \d+ of 30/);
    const firstStep = await step(page);
    const firstTotal = await total(page);
    assert.ok(firstTotal > 0, `total loss ${firstTotal}`);
    for (const term of ['content', 'style', 'tv']) {
      assert.ok(Number.isFinite(Number(await page.$eval($(`loss-${term}`), (e) => e.dataset.value))), term);
    }
    await waitStep(page, firstStep + 2);
    assert.ok(Number(await page.$eval($('stylize-rate'), (e) => e.dataset.value)) > 0, 'it/s shown');
    assert.ok(await total(page) < firstTotal, 'the loss falls');

    // Pause: no progress while paused; resume: it goes on.
    await waitStep(page, 8);
    await page.click($('pause'));
    await page.waitForSelector(`${$('stylize-status')}[data-state="paused"]`, { timeout: RUN_TIMEOUT });
    const pausedAt = await step(page);
    assert.ok(pausedAt < 30, `paused at ${pausedAt}`);
    await page.waitForTimeout(2000);
    assert.equal(await step(page), pausedAt, 'no step while paused');
    // The page stays responsive: the section can be left and come back to.
    await page.click('#tab-start');
    await page.click('#tab-style-transfer');
    assert.equal(await step(page), pausedAt);
    await page.click($('resume'));
    await waitStep(page, pausedAt + 1);

    // The preview changes as it goes.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="preview-figure"]')?.dataset.step) >= 10, null, { timeout: RUN_TIMEOUT });
    const later = await canvasPixels(page, $('stylize-preview'));
    const changed = meanAbsDiff(initial.px, later.px);
    assert.ok(changed > 2, `the preview changed (mean |diff| ${changed.toFixed(2)})`);

    const r1 = await waitResult(page);
    assert.deepEqual(r1, { cancelled: false, stepsDone: 30 });
    assert.equal(await step(page), 30);
    const lastTotal = await total(page);
    assert.ok(lastTotal < 0.8 * firstTotal, `total loss fell: ${firstTotal} -> ${lastTotal}`);
    assert.equal(await page.$eval(`${$('loss-chart')} polyline[data-series="total"]`, (e) => Number(e.dataset.points)), 30);
    assert.equal(await page.$($('stylize-note')), null);
    const png = await downloadResult(page, 'content-stylized.png');
    assert.deepEqual([png.width, png.height], [40, 32]);
    const final = await canvasPixels(page, $('stylize-preview'));
    assert.deepEqual(png.px, final.px, 'the download is the final image');
    console.log(`# 30 steps at 40x32 (paused 2 s) in ${Date.now() - t0} ms`);

    // Run 2: cancelled midway; the current image is the result.
    await page.fill($('steps'), '500');
    await page.click($('start'));
    await waitStep(page, 3);
    await page.click($('cancel'));
    const r2 = await waitResult(page);
    assert.equal(r2.cancelled, true);
    assert.ok(r2.stepsDone >= 3 && r2.stepsDone < 500, `cancelled at ${r2.stepsDone}`);
    assert.match(await page.textContent($('stylize-note')), new RegExp(`Cancelled at step ${r2.stepsDone} of 500`));
    const cancelledPng = await downloadResult(page, 'content-stylized.png');
    assert.deepEqual([cancelledPng.width, cancelledPng.height], [40, 32]);

    // Still usable: a short run with a blended second style and kept colours.
    await dropOn(page, 'style-input', 'style2.png', await fixture('nst/content.png'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="style-item"]').length === 2);
    await page.fill($('style-weight-1'), '0.5');
    await page.check($('preserve-colors'));
    await page.fill($('steps'), '3');
    await page.click($('start'));
    assert.deepEqual(await waitResult(page), { cancelled: false, stepsDone: 3 });
    assert.deepEqual(errors, []);
  });
});

const HF = 'https://huggingface.co/ai-art-test/vgg19-small/resolve/main';

/** The tensors' absolute byte ranges in a safetensors file. */
function layout(buf) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = { headerLen: n };
  for (const [name, t] of Object.entries(header)) {
    if (name !== '__metadata__') out[name] = [8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]];
  }
  return out;
}

/** A safetensors file with only the tensors `names` of `buf`. */
function subset(buf, names) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = {};
  const parts = [];
  let off = 0;
  for (const name of names) {
    const t = header[name];
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(out);
  while (json.length % 8) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

/** Bytes covered by a list of [start, end) ranges. */
function covered(ranges) {
  const set = new Set();
  for (const [a, b] of ranges) for (let i = a; i < b; i++) set.add(i);
  return set;
}

test('style transfer goes on after the GPU device is lost, from the last image kept', async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openStylize(context);
    await dropImagesAndVgg(page);
    await setUp(page, { steps: 30, previewEvery: 5 });
    await page.click($('start'));
    await waitStep(page, 12);
    await loseDevice(page, 'style-transfer');
    const lost = await page.waitForSelector('[data-testid="device-lost"]', { timeout: RUN_TIMEOUT });
    assert.match(await lost.textContent(), /The GPU device was lost \(.*destroyed.*\); the studio now runs on .+ WebGPU/is);
    const recovered = await page.waitForSelector($('recovered'), { timeout: RUN_TIMEOUT });
    const m = /The run goes on on .+ from step (\d+), the last image kept; the optimiser's state .* starts afresh/.exec(await recovered.textContent());
    assert.ok(m, await recovered.textContent());
    const from = Number(m[1]);
    assert.ok(from >= 10 && from % 5 === 0, `goes on from step ${from}`);
    const r = await waitResult(page);
    assert.deepEqual(r, { cancelled: false, stepsDone: 30 });
    assert.match(await page.textContent($('stylize-result')), new RegExp(`from step ${from}, the last image kept`));
    assert.ok(await total(page) > 0);
    const png = await downloadResult(page, 'content-stylized.png');
    assert.deepEqual([png.width, png.height], [40, 32]);
    // The VGG19 weights were kept in the worker's memory: the next run builds them on the new device.
    await page.fill($('steps'), '3');
    await page.click($('start'));
    assert.deepEqual(await waitResult(page), { cancelled: false, stepsDone: 3 });
    await page.waitForSelector('#device[data-state="gpu"]');
    // Burn logs the loss; nothing else went wrong.
    assert.deepEqual(errors.filter((e) => !/the wgpu device was lost/.test(e)), []);
  });
});

test('style transfer ends with a message when the GPU runs out of memory, and the next run works on a fresh device', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const { page, errors } = await openStylize(context);
    await dropImagesAndVgg(page);
    await setUp(page, { steps: 200, previewEvery: 5 });
    await page.click($('start'));
    await waitStep(page, 6);
    await exhaustMemory(page, 'style-transfer');
    const error = await waitJobEnd(page, { status: 'stylize-status', error: 'stylize-error', timeout: RUN_TIMEOUT });
    assert.match(error, /^The GPU ran out of memory \(the browser reported a GPUOutOfMemoryError\): try a smaller image size, or a smaller batch when training\. step (\d+) ran out of GPU memory$/);
    const stopped = Number(/step (\d+) ran out/.exec(error)[1]);
    assert.ok(stopped > 6 && stopped < 200, `stopped at step ${stopped}`);
    const notice = await page.textContent('[data-testid="device-lost"]');
    assert.match(notice, /The GPU ran out of memory \(.*GPUOutOfMemoryError\): the job in progress stopped, and the studio now runs on a fresh device, .+ WebGPU/s);
    // The previews up to that step are still there, and the app goes on: the next run works
    // on the fresh device, with VGG19 rebuilt from the worker's memory.
    assert.ok(await page.isVisible($('stylize-preview')));
    await page.fill($('steps'), '3');
    await page.click($('start'));
    assert.deepEqual(await waitResult(page), { cancelled: false, stepsDone: 3 });
    await page.waitForSelector('#device[data-state="gpu"]');
    // The error is logged; nothing else went wrong.
    assert.deepEqual(errors.filter((e) => !/ran out of memory/.test(e)), []);
  });
});

test('VGG19 from a safetensors URL: only the needed tensors are fetched, with range requests, then served from the cache', async () => {
  const file = await fixture('nst/vgg19_small.safetensors');
  const where = layout(file);
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    // vgg19_norange.safetensors: a server that ignores Range.
    const requests = await routeSafetensors(context, `${HF}/**`, file, { ranged: ['/vgg19_small.safetensors'] });

    const { page, errors } = await openStylize(context);
    await dropImages(page);
    await page.fill($('vgg-url'), `${HF}/vgg19_small.safetensors`);
    await page.click($('vgg-load-url'));
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.equal(await page.$eval($('vgg-description'), (e) => e.dataset.fromCache), 'false');
    assert.match(await page.textContent($('vgg-description')), /vgg19_small\.safetensors: VGG19 features, 16 of 16 convolutions/);
    assert.match(await page.textContent($('vgg-note')), /Only the convolutions a run needs are downloaded, with HTTP range requests/);
    // The header alone: its length, then the JSON.
    assert.deepEqual(requests.map((r) => r.range), ['bytes=0-7', `bytes=8-${8 + where.headerLen - 1}`]);

    // conv2_1 and conv1_1: convolutions 0, 1, 2 = features.0, .2, .5, nothing else.
    await setUp(page, { steps: 4, contentLayer: 'conv2_1', styleLayers: 'conv1_1,conv2_1', previewEvery: 2 });
    await page.evaluate(() => {
      window.__totals = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="vgg-download-progress"]');
        if (el) window.__totals.push(el.dataset.total);
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.click($('start'));
    assert.deepEqual(await waitResult(page), { cancelled: false, stepsDone: 4 });
    const needed = ['features.0', 'features.2', 'features.5'].flatMap((f) => [where[`${f}.weight`], where[`${f}.bias`]]);
    const neededBytes = needed.reduce((s, [a, b]) => s + b - a, 0);
    const tensorRequests = requests.slice(2).map((r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range);
      assert.ok(m, `a range request: ${r.range}`);
      return [Number(m[1]), Number(m[2]) + 1];
    });
    assert.deepEqual(covered(tensorRequests), covered(needed), 'exactly the bytes of features.0, .2 and .5');
    assert.equal(tensorRequests.reduce((s, [a, b]) => s + b - a, 0), neededBytes, 'no byte twice');
    assert.ok(tensorRequests.length <= 3, `adjacent tensors in one request (${tensorRequests.length} requests)`);
    assert.ok((await page.evaluate(() => window.__totals)).includes(String(neededBytes)), 'progress over the needed bytes');

    // Deeper layers: only the missing convolutions (features.7, .10) are fetched.
    let before = requests.length;
    await page.selectOption($('content-layer'), 'conv3_1');
    await page.fill($('steps'), '2');
    await page.click($('start'));
    await waitResult(page);
    const more = requests.slice(before).map((r) => { const m = /^bytes=(\d+)-(\d+)$/.exec(r.range); return [Number(m[1]), Number(m[2]) + 1]; });
    const extra = ['features.7', 'features.10'].flatMap((f) => [where[`${f}.weight`], where[`${f}.bias`]]);
    assert.deepEqual(covered(more), covered(extra));

    // A second visit: header and tensors from the Cache API, no request at all.
    before = requests.length;
    const second = await openStylize(context);
    await dropImages(second.page);
    await second.page.fill($('vgg-url'), `${HF}/vgg19_small.safetensors`);
    await second.page.click($('vgg-load-url'));
    await second.page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.equal(await second.page.$eval($('vgg-description'), (e) => e.dataset.fromCache), 'true');
    await setUp(second.page, { steps: 2, contentLayer: 'conv3_1', styleLayers: 'conv1_1,conv2_1' });
    await second.page.click($('start'));
    assert.deepEqual(await waitResult(second.page), { cancelled: false, stepsDone: 2 });
    assert.deepEqual(requests.slice(before), [], 'nothing downloaded on the second visit');

    // A server that ignores Range: the whole file, with a note, and the run works.
    before = requests.length;
    await second.page.fill($('vgg-url'), `${HF}/vgg19_norange.safetensors`);
    await second.page.click($('vgg-load-url'));
    await second.page.waitForSelector(`${$('vgg-description')}:has-text("vgg19_norange")`, { timeout: RUN_TIMEOUT });
    assert.match(await second.page.textContent($('vgg-note')), /does not support range requests, so the whole file \(0\.3 MB\) was downloaded/);
    assert.equal(requests.length - before, 1);
    await second.page.click($('start'));
    assert.deepEqual(await waitResult(second.page), { cancelled: false, stepsDone: 2 });

    // Not VGG19: a clear message, and the loaded weights stay.
    await second.page.fill($('vgg-url'), `${HF}/not-vgg.safetensors`);
    await context.route(`${HF}/not-vgg.safetensors`, (route) => route.fulfill({ status: 404, body: 'nope', headers: { 'access-control-allow-origin': '*' } }));
    await second.page.click($('vgg-load-url'));
    await second.page.waitForSelector($('stylize-error'), { timeout: RUN_TIMEOUT });
    assert.match(await second.page.textContent($('stylize-error')), /HTTP 404/);
    assert.match(await second.page.textContent($('vgg-description')), /vgg19_norange/);
    const unexpected = [...errors, ...second.errors].filter((e) => !/404/.test(e));
    assert.deepEqual(unexpected, []);
  });
});

test('style transfer: bad inputs get readable errors and the section stays usable', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const { page, errors } = await openStylize(context);
    // A generator is not VGG19; random bytes are not a checkpoint.
    await dropOn(page, 'vgg-file', 'netG.pth', await fixture('networks/resnet6_instance.pth'), 'application/octet-stream');
    await page.waitForSelector($('stylize-error'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('stylize-error')), /netG\.pth: this checkpoint holds a ResNet generator.*not VGG19's features/);
    await dropOn(page, 'vgg-file', 'junk.safetensors', Buffer.from('\xff'.repeat(64), 'latin1'), 'application/octet-stream');
    await page.waitForFunction(() => /junk\.safetensors: /.test(document.querySelector('[data-testid="stylize-error"]')?.textContent ?? ''), null, { timeout: RUN_TIMEOUT });
    // A VGG with too few convolutions for the chosen layers (conv5_1 needs 13).
    const vgg = await fixture('nst/vgg19_small.safetensors');
    const two = subset(vgg, ['features.0.weight', 'features.0.bias', 'features.2.weight', 'features.2.bias']);
    await dropOn(page, 'vgg-file', 'vgg2.safetensors', two, 'application/octet-stream');
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('vgg-description')), /VGG19 features, 2 of 16 convolutions/);
    await dropImages(page);
    await setUp(page, { steps: 2 });
    await page.click($('start'));
    await page.waitForSelector($('stylize-error'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('stylize-error')), /vgg2\.safetensors: these weights hold 2 of VGG19's 16 convolutions; conv5_1 needs the first 13\. Choose shallower layers/);
    await dropOn(page, 'vgg-file', 'vgg19_small.safetensors', vgg, 'application/octet-stream');
    await page.waitForSelector(`${$('vgg-description')}:has-text("vgg19_small.safetensors")`, { timeout: RUN_TIMEOUT });
    // A broken content image.
    const content = await fixture('nst/content.png');
    await dropOn(page, 'content-input', 'broken.png', content.subarray(0, content.length - 30));
    await page.waitForFunction(() => document.querySelector('[data-testid="content-name"]')?.textContent === 'broken.png');
    await page.click($('start'));
    await page.waitForFunction(() => /broken\.png/.test(document.querySelector('[data-testid="stylize-error"]')?.textContent ?? ''), null, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('stylize-error')), /broken\.png: .*corrupt/);
    // A bad layer name is caught before anything is sent.
    await page.fill($('style-layers'), 'conv1_1,conv9_9');
    await page.click($('start'));
    assert.match(await page.textContent($('stylize-error')), /`conv9_9` is not a VGG19 layer/);
    // Fixed, it runs.
    await page.fill($('style-layers'), 'conv1_1');
    await dropOn(page, 'content-input', 'content.png', content);
    await page.waitForFunction(() => document.querySelector('[data-testid="content-name"]')?.textContent === 'content.png');
    await page.click($('start'));
    assert.deepEqual(await waitResult(page), { cancelled: false, stepsDone: 2 });
    assert.deepEqual(errors, []);
  });
});

test('on the CPU backend too, Pause, Resume and Cancel take effect between steps', async () => {
  await withContext({ webgpu: false, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openPage(context, server.url, { device: 'cpu' });
    await page.click('#tab-style-transfer');
    await dropImagesAndVgg(page);
    await setUp(page, { steps: 100000 });
    const t0 = Date.now();
    await page.click($('start'));
    await waitStep(page, 3);
    const clickedAt = await step(page);
    await page.click($('pause'));
    await page.waitForSelector(`${$('stylize-status')}[data-state="paused"]`, { timeout: 30_000 });
    const pausedAt = await step(page);
    await page.waitForTimeout(1500);
    assert.equal(await step(page), pausedAt, 'no step while paused');
    await page.click($('resume'));
    await waitStep(page, pausedAt + 2);
    const cancelClickedAt = await step(page);
    await page.click($('cancel'));
    const r = await waitResult(page);
    console.log(`# CPU: pause clicked at step ${clickedAt}, paused at ${pausedAt}; cancel clicked at ${cancelClickedAt}, cancelled at ${r.stepsDone}`);
    assert.equal(r.cancelled, true);
    assert.ok(r.stepsDone >= pausedAt + 2 && r.stepsDone < 100000);
    const png = await downloadResult(page, 'content-stylized.png');
    assert.deepEqual([png.width, png.height], [40, 32]);
    console.log(`# CPU: ${r.stepsDone} steps, paused and cancelled, in ${Date.now() - t0} ms`);
    assert.deepEqual(errors, []);
  });
});
