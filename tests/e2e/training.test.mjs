// End-to-end test of the Training section (dist/ from `trunk build --release`) in headless
// Chromium on WebGPU (SwiftShader): train Pix2Pix for a few iterations from picked AB images
// (one of them broken), see the losses chart and the sample move, reload the page, find the
// run offered for resuming, resume it where it stopped, lose the GPU device (the run goes on
// from its last checkpoint on a new one), fill the storage so that a checkpoint
// cannot be written (the run ends, its last checkpoint kept and resumed), stop it, and export
// the generator, which must be a safetensors file with the official U-Net key names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDistForTests, withContext, openSection, DEVICE_TIMEOUT, $, makePng, loseDevice, slowWrites, dropOn, canvasPixels } from './harness.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

const RUN_TIMEOUT = 240_000;

const server = serveDistForTests();

const attr = (page, sel, name) => page.$eval(sel, (e, n) => e.getAttribute(n), name);
const iteration = async (page) => Number(await attr(page, $('train-iteration'), 'data-iteration'));

test('train Pix2Pix from dropped images, reload, resume, stop and export', { timeout: 3 * RUN_TIMEOUT }, async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openSection(context, server.url, { tab: 'training', panel: 'train-panel' });

    // Three side-by-side AB images (64x32: two 32x32 halves) and one file that is not an image.
    const files = [0, 1, 2].map((k) => ({ name: `pair${k}.png`, mimeType: 'image/png', buffer: makePng(64 + 2 * k, 32 + k) }));
    files.push({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await page.setInputFiles($('train-files-ab'), files);
    await page.waitForSelector(`${$('train-count-ab')}[data-count="4"]`);

    for (const [id, v] of [['train-size', '32'], ['train-batch', '2'], ['train-ngf', '4'], ['train-ndf', '4'],
      ['train-layers-d', '2'], ['train-max-iterations', '400'], ['train-sample-every', '2'], ['train-save-every', '1']]) {
      await page.fill($(id), v);
    }
    await page.click($('train-start'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    const summary = await page.textContent($('train-summary'));
    assert.match(summary, /unet_32/, summary);
    assert.match(summary, /3 image\(s\) loaded, 1 skipped/, summary);
    assert.match(summary, /broken\.png/, summary);

    // The chart and the numbers move; a sample appears; the state gets saved.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= 4,
      null, { timeout: RUN_TIMEOUT });
    const points = await page.$$eval(`${$('train-chart')} polyline`, (ls) => ls.map((l) => Number(l.dataset.points)));
    assert.equal(points.length, 6, 'one line per Pix2Pix loss term');
    assert.ok(points.every((p) => p >= 2), `every term has points: ${points}`);
    const g = Number(await attr(page, $('train-loss-G'), 'data-value'));
    assert.ok(Number.isFinite(g) && g > 0, `G loss ${g}`);
    assert.ok(Number(await attr(page, $('train-rate'), 'data-value')) > 0);
    await page.waitForSelector(`${$('train-sample')}`);
    assert.equal(await page.$$eval(`${$('train-sample')} canvas`, (cs) => cs.length), 3, 'A, G(A), B');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-saved-at"]')?.dataset.iteration) >= 2,
      null, { timeout: RUN_TIMEOUT });

    // Reload in the middle of the run: the saved state is offered for resuming.
    await page.reload();
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: DEVICE_TIMEOUT });
    await page.click('#tab-training');
    await page.waitForSelector($('train-saved'), { timeout: RUN_TIMEOUT });
    const saved = Number(await attr(page, $('train-saved'), 'data-iteration'));
    assert.ok(saved >= 2, `saved at ${saved}`);
    await page.click($('train-resume'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-summary')), new RegExp(`resumed at iteration ${saved} of 400`));
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= s + 2,
      saved, { timeout: RUN_TIMEOUT });
    const resumedChart = Number(await attr(page, $('train-chart'), 'data-iterations'));
    assert.ok(resumedChart >= 2, 'the chart moves after resuming');
    const first = await page.$eval(`${$('train-chart')} polyline`, (l) => l.getAttribute('points'));
    assert.ok(first.length > 0);

    // The GPU device is lost (a driver reset, say) after a checkpoint: a new device takes
    // over, and the run goes on from that checkpoint without a reload.
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-saved-at"]')?.dataset.iteration) > s,
      saved, { timeout: RUN_TIMEOUT });
    await loseDevice(page, 'training');
    await page.waitForSelector('[data-testid="device-lost"]', { timeout: RUN_TIMEOUT });
    const recovered = await (await page.waitForSelector($('recovered'), { timeout: RUN_TIMEOUT })).textContent();
    const m = /The GPU device was lost \(.*destroyed.*\)\. The run goes on on .+ from iteration (\d+), its last checkpoint\./is.exec(recovered);
    assert.ok(m, recovered);
    const from = Number(m[1]);
    assert.ok(from > saved, `goes on from iteration ${from}`);
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= s + 2,
      from, { timeout: RUN_TIMEOUT });
    assert.equal(await page.$($('train-error')), null);
    await page.waitForSelector('#device[data-state="gpu"]');

    // The storage fills up (CDP shrinks the quota) while a checkpoint is written: the run ends,
    // saying that its last checkpoint is kept, and it is: resumed there once there is room.
    const cdp = await context.newCDPSession(page);
    const origin = new URL(server.url).origin;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1000 });
    await page.waitForSelector($('train-error'), { timeout: RUN_TIMEOUT });
    await page.waitForSelector($('train-status'), { state: 'detached', timeout: RUN_TIMEOUT });
    // The last checkpoint: the one resumed from, or a later save of this page's run.
    const kept = Math.max(saved, Number(await attr(page, $('train-saved-at'), 'data-iteration')));
    assert.match(await page.textContent($('train-error')),
      new RegExp(`could not save the training state in the browser's storage \\(.+\\); the run is kept as of iteration ${kept}, its last checkpoint`));
    await cdp.send('Storage.overrideQuotaForOrigin', { origin });
    await page.reload();
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: DEVICE_TIMEOUT });
    await page.click('#tab-training');
    await page.waitForSelector($('train-saved'), { timeout: RUN_TIMEOUT });
    assert.equal(Number(await attr(page, $('train-saved'), 'data-iteration')), kept);
    await page.click($('train-resume'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-summary')), new RegExp(`resumed at iteration ${kept} of 400`));
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= s + 2,
      kept, { timeout: RUN_TIMEOUT });

    // Stop: the run ends, saved, and stays resumable.
    await page.click($('train-stop'));
    await page.waitForSelector($('train-status'), { state: 'detached', timeout: RUN_TIMEOUT });
    const stoppedAt = await iteration(page);
    assert.ok(stoppedAt > kept && stoppedAt < 400, `stopped at ${stoppedAt}`);
    assert.equal(Number(await attr(page, $('train-saved-at'), 'data-iteration')), stoppedAt);

    // junyanz's trainer builds no unet_32: the hand-over says so.
    await page.click($('train-export-junyanz'));
    await page.waitForFunction(() => /junyanz's train\.py cannot continue this run: .*unet_32/.test(document.querySelector('[data-testid="train-error"]')?.textContent ?? ''),
      null, { timeout: RUN_TIMEOUT });

    // Export the generator: an official-layout safetensors file.
    await page.click($('train-export-G'));
    await page.waitForSelector($('train-download'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click($('train-download'))]);
    assert.match(download.suggestedFilename(), new RegExp(`^pix2pix-.*-iter${stoppedAt}-G\\.safetensors$`));
    const bytes = await fs.readFile(await download.path());
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    assert.ok('model.model.0.weight' in header, Object.keys(header).slice(0, 5).join(', '));
    assert.deepEqual(header['model.model.0.weight'].shape, [4, 3, 4, 4]);

    // Burn logs the device loss; nothing else went wrong.
    assert.deepEqual(errors.filter((e) => !/the wgpu device was lost/.test(e)), []);

    // The page is closed while a checkpoint is being written (writes are slowed to five
    // seconds, so the close lands in the middle of one): the checkpoint before it is kept
    // whole, and the run resumes from it.
    await page.reload();
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: DEVICE_TIMEOUT });
    await slowWrites(page, 'training');
    await page.waitForSelector($('train-saved'), { timeout: RUN_TIMEOUT });
    assert.equal(Number(await attr(page, $('train-saved'), 'data-iteration')), stoppedAt);
    const writing = page.waitForEvent('console', { predicate: (m) => /writing the checkpoint of iteration \d+/.test(m.text()), timeout: RUN_TIMEOUT });
    await page.click($('train-resume'));
    const written = Number(/iteration (\d+)/.exec((await writing).text())[1]);
    assert.ok(written > stoppedAt, `a new checkpoint (${written}) is being written`);
    await page.close();
    const again = await openSection(context, server.url, { tab: 'training', panel: 'train-panel' });
    await again.page.waitForSelector($('train-saved'), { timeout: RUN_TIMEOUT });
    assert.equal(Number(await attr(again.page, $('train-saved'), 'data-iteration')), stoppedAt, 'the half-written checkpoint is not kept');
    await again.page.click($('train-resume'));
    await again.page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    assert.match(await again.page.textContent($('train-summary')), new RegExp(`resumed at iteration ${stoppedAt} of 400`));
    await again.page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= s + 2,
      stoppedAt, { timeout: RUN_TIMEOUT });
    await again.page.click($('train-stop'));
    await again.page.waitForSelector($('train-status'), { state: 'detached', timeout: RUN_TIMEOUT });
    assert.deepEqual(again.errors, []);
  });
});

/** The header of a safetensors file: tensor name -> { dtype, shape, data_offsets }. */
function safetensorsHeader(bytes) {
  const len = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
}

test('train a fast style network from photos and a painting, resume it after a reload (VGG19 loaded again), export it and stylise with it', { timeout: 3 * RUN_TIMEOUT }, async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openSection(context, server.url, { tab: 'training', panel: 'train-panel' });
    await page.selectOption($('train-model'), 'fast-style');
    assert.equal(await attr(page, $('vgg-description'), 'data-state'), 'none');
    // Four photos of other sizes and aspects (the centre square is taken) and the style image.
    const photos = [0, 1, 2, 3].map((k) => ({ name: `photo${k}.png`, mimeType: 'image/png', buffer: makePng(40 + 7 * k, 30 + 5 * k) }));
    await page.setInputFiles($('train-files-a'), photos);
    await page.waitForSelector(`${$('train-count-a')}[data-count="4"]`);
    const style = await fs.readFile(path.join(FIXTURES, 'nst/style.png'));
    await page.setInputFiles($('train-files-b'), { name: 'painting.png', mimeType: 'image/png', buffer: style });
    await page.waitForSelector(`${$('train-count-b')}[data-count="1"]`);
    // 20 epochs (the tab's default) of two batches.
    for (const [id, v] of [['train-size', '32'], ['train-batch', '2'], ['train-ngf', '4'],
      ['train-sample-every', '2'], ['train-save-every', '1']]) {
      await page.fill($(id), v);
    }
    // Without VGG19 the run cannot start, and says why.
    await page.click($('train-start'));
    await page.waitForSelector($('train-error'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-error')), /load VGG19's weights first/);
    const vgg = await fs.readFile(path.join(FIXTURES, 'networks/vgg19_small.pth'));
    await dropOn(page, 'vgg-file', 'vgg19_small.pth', vgg, 'application/octet-stream');
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });

    await page.click($('train-start'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    const summary = await page.textContent($('train-summary'));
    assert.match(summary, /G: fast style network .*widths 4\/8\/16, 5 residual blocks/, summary);
    assert.match(summary, /4 image\(s\) loaded/, summary);
    assert.equal(await attr(page, $('train-iteration'), 'data-total'), '40');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= 4,
      null, { timeout: RUN_TIMEOUT });
    // Johnson's loss: content and style terms, no TV by default, and their sum.
    const loss = async (name) => Number(await attr(page, $(`train-loss-${name}`), 'data-value'));
    const [content, styleLoss, tv, total] = [await loss('content'), await loss('style'), await loss('tv'), await loss('total')];
    assert.ok(content > 0 && styleLoss > 0 && tv === 0, `losses ${content} ${styleLoss} ${tv}`);
    assert.ok(Math.abs(total - (content + styleLoss)) <= 1e-4 * total, `total ${total}`);
    await page.waitForSelector($('train-sample'));
    assert.deepEqual(await page.$$eval(`${$('train-sample')} figcaption`, (fs) => fs.map((f) => f.textContent)), ['photo', 'stylised', 'style']);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-saved-at"]')?.dataset.iteration) >= 2,
      null, { timeout: RUN_TIMEOUT });

    // A reload: the run is offered, but VGG19 is gone with the old worker; loaded again here,
    // the run resumes where it was saved.
    await page.reload();
    await page.waitForSelector('#device[data-state="gpu"]', { timeout: DEVICE_TIMEOUT });
    await page.click('#tab-training');
    await page.waitForSelector($('train-saved'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-saved')), /A Fast style run is saved at iteration \d+ of 40/);
    const saved = Number(await attr(page, $('train-saved'), 'data-iteration'));
    await page.click($('train-resume'));
    await page.waitForSelector($('train-error'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-error')), /load VGG19's weights first/);
    await dropOn(page, 'vgg-file', 'vgg19_small.pth', vgg, 'application/octet-stream');
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    await page.click($('train-resume'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('train-summary')), new RegExp(`resumed at iteration ${saved} of 40`));
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-iteration"]')?.dataset.iteration) >= s + 2,
      saved, { timeout: RUN_TIMEOUT });
    await page.click($('train-stop'));
    await page.waitForSelector($('train-status'), { state: 'detached', timeout: RUN_TIMEOUT });
    const stoppedAt = await iteration(page);

    // Export: pytorch/examples' TransformerNet names, as `.safetensors`.
    await page.click($('train-export-G'));
    await page.waitForSelector($('train-download'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click($('train-download'))]);
    assert.match(download.suggestedFilename(), new RegExp(`^fast-style-.*-iter${stoppedAt}-G\\.safetensors$`));
    const bytes = await fs.readFile(await download.path());
    const header = safetensorsHeader(bytes);
    assert.deepEqual(header['conv1.conv2d.weight'].shape, [4, 3, 9, 9]);
    assert.deepEqual(header['deconv3.conv2d.weight'].shape, [3, 4, 9, 9]);
    assert.ok('res5.in2.bias' in header, Object.keys(header).join(', '));

    // The exported network stylises in the image-to-image tab, at any size.
    await page.click('#tab-cyclegan');
    await page.setInputFiles($('model-file'), { name: 'my-style.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
    await page.waitForSelector(`${$('model-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent($('model-description')), /fast style network/);
    await page.setInputFiles($('image-input'), { name: 'odd.png', mimeType: 'image/png', buffer: makePng(37, 22) });
    await page.waitForSelector($('output-canvas'), { timeout: RUN_TIMEOUT });
    const out = await canvasPixels(page, $('output-canvas'));
    assert.deepEqual([out.width, out.height], [37, 22]);
    assert.deepEqual(errors, []);
  });
});

/** The files of a zip whose records are stored (not compressed), as `{ name: Buffer }`. */
function storedZip(bytes) {
  const files = {};
  let at = 0;
  while (bytes.readUInt32LE(at) === 0x04034b50) {
    const [method, size, nameLen, extraLen] = [bytes.readUInt16LE(at + 8), bytes.readUInt32LE(at + 18), bytes.readUInt16LE(at + 26), bytes.readUInt16LE(at + 28)];
    assert.equal(method, 0, 'stored');
    const name = bytes.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const start = at + 30 + nameLen + extraLen;
    files[name] = bytes.subarray(start, start + size);
    at = start + size;
  }
  return files;
}

test('continue a Pix2Pix run from junyanz\'s checkpoints (G and D), then hand it back to junyanz as a zip', { timeout: 2 * RUN_TIMEOUT }, async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openSection(context, server.url, { tab: 'training', panel: 'train-panel' });
    await page.setInputFiles($('train-files-ab'), [0, 1].map((k) => ({ name: `ab${k}.png`, mimeType: 'image/png', buffer: makePng(256 + k, 128) })));
    await page.waitForSelector(`${$('train-count-ab')}[data-count="2"]`);
    // A cluster's folder: a unet_128 of width 2 and a PatchGAN of width 4 (the fixtures).
    const net = (f) => fs.readFile(path.join(FIXTURES, 'networks', f));
    await page.setInputFiles($('train-junyanz'), [
      { name: 'latest_net_G.pth', mimeType: 'application/octet-stream', buffer: await net('unet128_instance.pth') },
      { name: 'latest_net_D.pth', mimeType: 'application/octet-stream', buffer: await net('patchgan_6ch_instance.pth') },
    ]);
    await page.waitForSelector($('train-init-1'));
    assert.match(await page.textContent($('train-init-1')), /D: continues from latest_net_D\.pth/);
    assert.match(await page.textContent($('train-junyanz-note')), /Adam starts with its moments at zero/);
    await page.setInputFiles($('train-junyanz'), { name: 'latest_net_G_A.pth', mimeType: 'application/octet-stream', buffer: Buffer.from('x') });
    await page.waitForSelector($('train-error'));
    assert.match(await page.textContent($('train-error')), /latest_net_G_A\.pth: not one of a Pix2Pix run's checkpoints \(latest_net_G\.pth, latest_net_D\.pth\)/);
    // The form's widths (32) are not the folder's: the networks come from the files.
    for (const [id, v] of [['train-size', '128'], ['train-max-iterations', '2'], ['train-save-every', '1']]) await page.fill($(id), v);
    await page.click($('train-start'));
    await page.waitForSelector($('train-run'), { timeout: RUN_TIMEOUT });
    const summary = await page.textContent($('train-summary'));
    assert.match(summary, /G: U-Net generator unet_128 .*ngf 2/, summary);
    assert.match(summary, /D: PatchGAN discriminator, 3 layers \(70x70 patches\), ndf 4/, summary);
    await page.waitForSelector($('train-status'), { state: 'detached', timeout: RUN_TIMEOUT });
    assert.equal(await iteration(page), 2);

    // Back to junyanz: the folder as a zip, its files under the experiment's name.
    await page.click($('train-export-junyanz'));
    await page.waitForSelector($('train-download'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click($('train-download'))]);
    assert.match(download.suggestedFilename(), /^pix2pix-.*-iter2-junyanz\.zip$/);
    const files = storedZip(await fs.readFile(await download.path()));
    const names = Object.keys(files);
    const folder = names[0].split('/')[0];
    assert.deepEqual(names, ['latest_net_G.pth', 'latest_net_D.pth', 'train_opt.txt', 'README.md'].map((f) => `${folder}/${f}`));
    assert.deepEqual([...files[`${folder}/latest_net_G.pth`].subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'a torch.save zip');
    const readme = files[`${folder}/README.md`].toString('utf8');
    for (const part of [`--name ${folder}`, '--model pix2pix', '--netG unet_128', '--ngf 2', '--ndf 4', '--gan_mode lsgan', '--norm instance', '--continue_train']) {
      assert.ok(readme.includes(part), `${part} in ${readme}`);
    }
    assert.match(files[`${folder}/train_opt.txt`].toString('utf8'), /^\s+netG: unet_128 /m);
    assert.deepEqual(errors, []);
  });
});
