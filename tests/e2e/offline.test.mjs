// Offline and installable (dist/ from `trunk build --release`, headless Chromium on WebGPU
// through SwiftShader): after one visit the service worker has the app, the samples and the
// built-in model; with the server gone (closed, not only emulated offline) a reload starts
// the studio, the built-in CycleGAN runs (on a small image), and VGG19 fetched during that first visit (the hub
// played by Playwright's routing) still serves style transfer from the browser's cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDist, withContext, openPage, $, routeSafetensors, makePng } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const RUN_TIMEOUT = 300_000;
const HUB = 'https://huggingface.co/timm/vgg19.tv_in1k/resolve/main';

test('after one visit the studio starts, translates and stylises with no server and no network', async () => {
  const server = await serveDist();
  const vgg = await fs.readFile(path.join(ROOT, 'tests/fixtures/nst/vgg19_small.safetensors'));
  try {
    await withContext({ webgpu: true, serviceWorkers: 'allow' }, async (context) => {
      const requests = await routeSafetensors(context, `${HUB}/**`, vgg, { ranged: ['/model.safetensors'] });
      const { page, errors } = await openPage(context, server.url);
      // Installable: the manifest and its icons are served.
      const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
      assert.equal(manifest.display, 'standalone');
      assert.ok(manifest.icons.some((i) => i.sizes === '512x512'));
      // The service worker installs (precaching the build) and takes control of the page.
      await page.waitForFunction(() => navigator.serviceWorker.controller?.state === 'activated', null, { timeout: RUN_TIMEOUT });
      const precached = await page.evaluate(async () => {
        const key = (await caches.keys()).find((k) => k.startsWith('ai-art-shell-'));
        return (await (await caches.open(key)).keys()).map((r) => new URL(r.url).pathname);
      });
      for (const want of ['/', '/samples/cat.jpg', '/models/vintagify-photo2vintage.pth']) {
        assert.ok(precached.includes(want), `${want} precached: ${precached.join(' ')}`);
      }
      assert.ok(precached.some((p) => p.endsWith('_bg.wasm')), 'the wasm precached');

      // First visit: style transfer once, so the VGG19 pieces a run needs are stored.
      await page.click($('demo-style-transfer'));
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="stylize-step"]')?.dataset.step) >= 1, null, { timeout: RUN_TIMEOUT });
      await page.click($('cancel'));
      await page.waitForSelector(`${$('stylize-result')}[data-cancelled="true"]`, { timeout: RUN_TIMEOUT });
      assert.deepEqual(errors, []);

      // The server goes away and the network with it.
      await server.close();
      await context.setOffline(true);
      const hubRequests = requests.length;
      await page.reload();
      await page.waitForSelector('#device[data-state="gpu"]', { timeout: RUN_TIMEOUT });
      assert.ok(await page.isVisible($('start-panel')), 'the studio starts offline');

      // The built-in CycleGAN from the caches, on a small image (ResNet-9 on a 512 px photo
      // takes many minutes on SwiftShader).
      await page.click('#tab-cyclegan');
      await page.click(`${$('cyclegan-panel')} ${$('load-model')}`);
      await page.waitForSelector(`${$('cyclegan-panel')} ${$('model-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
      await page.setInputFiles(`${$('cyclegan-panel')} ${$('image-input')}`, { name: 'small.png', mimeType: 'image/png', buffer: makePng(32, 24) });
      await page.waitForSelector(`${$('cyclegan-panel')} ${$('output-canvas')}[data-width="32"][data-height="24"]`, { timeout: RUN_TIMEOUT });

      // Style transfer with the VGG19 stored on the first visit: nothing reaches the hub.
      await page.click('#tab-start');
      await page.click($('demo-style-transfer'));
      await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
      assert.equal(await page.$eval($('vgg-description'), (e) => e.dataset.fromCache), 'true');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="stylize-step"]')?.dataset.step) >= 1, null, { timeout: RUN_TIMEOUT });
      await page.click($('cancel'));
      await page.waitForSelector(`${$('stylize-result')}[data-cancelled="true"]`, { timeout: RUN_TIMEOUT });
      assert.equal(requests.length, hubRequests, 'no request to the hub while offline');
    });
  } finally {
    await server.close();
  }
});
