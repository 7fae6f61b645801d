// A visitor's first minute (dist/ from `trunk build --release`, headless Chromium on WebGPU
// through SwiftShader): the page opens on the techniques, the samples and their credits are
// there, the CycleGAN demo runs the built-in model on a sample with one click, and the style
// transfer demo fetches VGG19 from Hugging Face (played here by Playwright's routing with the
// small random-weight fixture, honouring Range) and starts a run with one click.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDistForTests, withContext, openPage, $, routeSafetensors, serveFileElsewhere, makePng } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const RUN_TIMEOUT = 300_000;
const HUB = 'https://huggingface.co/timm/vgg19.tv_in1k/resolve/main';

const server = serveDistForTests();

test('the page opens on the techniques; samples, credits and diagnostics are there', async () => {
  const { samples } = JSON.parse(await fs.readFile(path.join(ROOT, 'static/samples/samples.json'), 'utf8'));
  await withContext({ webgpu: true }, async (context) => {
    const { page, errors } = await openPage(context, server.url);
    assert.equal(await page.getAttribute('#tab-start', 'aria-selected'), 'true');
    await page.waitForSelector($('start-panel'));
    for (const card of ['style-transfer', 'cyclegan', 'pix2pix', 'training']) {
      assert.ok(await page.isVisible($(`card-${card}`)), `a card for ${card}`);
    }
    // The device: its name in view, its limits folded away.
    assert.ok(await page.isVisible('#device-adapter'));
    assert.equal(await page.isVisible('#device-limits'), false, 'limits folded');
    // Diagnostics: the image check, folded.
    assert.equal(await page.isVisible('#image-input'), false);
    await page.click(`${$('diagnostics')} > summary`);
    assert.ok(await page.isVisible('#image-input'));

    // Credits: every sample with its licence.
    await page.click(`${$('credits')} > summary`);
    const credits = await page.$$eval($('credit'), (li) => li.map((e) => ({ file: e.dataset.file, text: e.textContent })));
    assert.deepEqual(credits.map((c) => c.file), samples.map((s) => s.file));
    for (const [i, s] of samples.entries()) assert.ok(credits[i].text.includes(s.licence), `${s.file}: ${s.licence}`);

    // Open goes to the section; a style sample is one click away there, and loads.
    await page.click($('open-style-transfer'));
    await page.waitForSelector($('stylize-panel'));
    const thumbs = await page.$$eval(`${$('stylize-panel')} button.sample img`, (imgs) => Promise.all(imgs.map((img) =>
      img.complete ? img.naturalWidth : new Promise((ok) => { img.onload = () => ok(img.naturalWidth); img.onerror = () => ok(0); }))));
    assert.equal(thumbs.length, samples.length, 'content and style samples offered');
    assert.ok(thumbs.every((w) => w > 0), `every sample thumbnail loads: ${thumbs}`);
    await page.click($('content-sample-astronaut'));
    await page.waitForSelector(`${$('content-name')}:has-text("astronaut.jpg")`);
    await page.click($('style-sample-gravel'));
    await page.waitForFunction(() => document.querySelector('[data-testid="style-preview-0"]')?.naturalWidth > 0);
    assert.deepEqual(errors, []);
  });
});

test('one click: the CycleGAN demo loads the built-in model and translates a sample', async () => {
  await withContext({ webgpu: true }, async (context) => {
    // ResNet-9 at 512x341 takes many minutes on SwiftShader: a 32x24 image stands in for the
    // demo's photo (the app takes any format by its content).
    await context.route('**/samples/coffee.jpg', (route) => route.fulfill({ status: 200, body: makePng(32, 24), contentType: 'image/jpeg' }));
    const { page, errors } = await openPage(context, server.url);
    await page.click($('demo-cyclegan'));
    await page.waitForSelector($('cyclegan-panel'));
    assert.equal(await page.getAttribute('#tab-cyclegan', 'aria-selected'), 'true');
    // The output keeps the image's size.
    await page.waitForSelector(`${$('cyclegan-panel')} ${$('output-canvas')}[data-width="32"][data-height="24"]`, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent(`${$('cyclegan-panel')} ${$('model-description')}`), /vintage/i);
    assert.equal(await page.$(`${$('cyclegan-panel')} ${$('error')}`), null);
    assert.deepEqual(errors, []);
  });
});

test('one click: the style transfer demo fetches VGG19 from the hub (redirected to its CDN) with range requests and starts', async () => {
  const file = await fs.readFile(path.join(ROOT, 'tests/fixtures/nst/vgg19_small.safetensors'));
  const cdn = await serveFileElsewhere(file, { ranged: ['/model.safetensors'] });
  await withContext({ webgpu: true, ignoreHTTPSErrors: true }, async (context) => {
    const requests = await routeSafetensors(context, `${HUB}/**`, file, { ranged: ['/model.safetensors'], redirectTo: cdn.origin });
    const { page, errors } = await openPage(context, server.url);
    await page.click($('demo-style-transfer'));
    await page.waitForSelector($('stylize-panel'));
    await page.waitForSelector(`${$('content-name')}:has-text("cat.jpg")`, { timeout: RUN_TIMEOUT });
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('vgg-description')), /VGG19 \(torchvision, from Hugging Face\): VGG19 features, 16 of 16 convolutions/);
    // The run starts by itself; steps come.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="stylize-step"]')?.dataset.step) >= 2, null, { timeout: RUN_TIMEOUT });
    // Range requests only; each one the hub got was redirected, and the CDN (another origin,
    // which allows any: the redirect made the request's origin opaque) got the same range.
    assert.ok(requests.length >= 3 && requests.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? '') && r.redirected), JSON.stringify(requests));
    assert.ok(requests.every((r) => r.url === `${HUB}/model.safetensors`), JSON.stringify(requests));
    assert.ok(cdn.requests.every((r) => r.url === `${cdn.origin}${new URL(HUB).pathname}/model.safetensors`), JSON.stringify(cdn.requests));
    assert.deepEqual(cdn.requests.map((r) => r.range), requests.map((r) => r.range));
    await page.click($('cancel'));
    await page.waitForSelector(`${$('stylize-result')}[data-cancelled="true"]`, { timeout: RUN_TIMEOUT });
    assert.deepEqual(errors, []);
  }).finally(() => cdn.close());
});

test('stored models: listed with their sizes, VGG19 pieces as one file, deleted on request', async () => {
  const vgg = await fs.readFile(path.join(ROOT, 'tests/fixtures/nst/vgg19_small.safetensors'));
  const builtin = (await fs.stat(path.join(ROOT, 'dist/models/vintagify-photo2vintage.pth'))).size;
  await withContext({ webgpu: true }, async (context) => {
    await routeSafetensors(context, `${HUB}/**`, vgg, { ranged: ['/model.safetensors'] });
    const { page, errors } = await openPage(context, server.url);
    // The fold lists what is stored each time it opens; wait for `count` entries.
    const stored = async (count) => {
      await page.click('#tab-start');
      await page.$eval($('stored-models'), (d) => { d.open = false; });
      await page.click(`${$('stored-models')} > summary`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="storage-usage"]')
        && document.querySelectorAll('[data-testid="stored-model"]').length === n, count, { timeout: RUN_TIMEOUT });
      return page.$$eval($('stored-model'), (li) => li.map((e) => ({ url: e.dataset.url, bytes: Number(e.dataset.bytes), text: e.textContent })));
    };
    assert.deepEqual(await stored(0), []);
    assert.ok(await page.isVisible($('stored-none')));

    // The built-in model, then VGG19's header from the hub.
    await page.click('#tab-cyclegan');
    await page.click($('load-model'));
    await page.waitForSelector(`${$('model-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    await page.click('#tab-style-transfer');
    await page.click($('vgg-hub'));
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    const models = await stored(2);
    const [first, second] = models;
    assert.equal(first.url, `${server.url}models/vintagify-photo2vintage.pth`);
    assert.equal(first.bytes, builtin);
    assert.match(first.text, /vintagify-photo2vintage\.pth \(served with the studio\), 45\.\d MB/);
    assert.equal(second.url, `${HUB}/model.safetensors`);
    assert.match(second.text, /model\.safetensors \(huggingface\.co\)/);
    assert.match(await page.textContent($('storage-usage')), /The studio uses [\d.]+ MB of the [\d.]+ MB this browser allows it/);

    // Delete the built-in model: gone from the list, and the next load downloads it again.
    await page.click(`${$('stored-model')}[data-url$="vintagify-photo2vintage.pth"] ${$('stored-model-delete')}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="stored-model"]').length === 1);
    await page.click('#tab-cyclegan');
    await page.click($('load-model'));
    await page.waitForSelector(`${$('model-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.equal(await page.$eval($('model-description'), (e) => e.dataset.fromCache), 'false');
    assert.deepEqual(errors, []);
  });
});
