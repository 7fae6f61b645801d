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
import { serveDistForTests, withContext, openSection, DEVICE_TIMEOUT, $, makePng, loseDevice, slowWrites } from './harness.mjs';

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
