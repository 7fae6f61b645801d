// End-to-end tests of the Deep Dream section (dist/ from `trunk build --release`) in headless
// Chromium on WebGPU (SwiftShader), with the small random-weight VGG19 fixture
// (`tests/fixtures/networks/vgg19_small.pth`, widths 4-32) and the NST fixture's content image
// (40x32). The method itself is checked against PyTorch in src/techniques/deep_dream/tests.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $, canvasPixels, decodeInPage, downloadPng, dropOn, openSection, serveDistForTests, waitJobEnd, withContext } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (p) => fs.readFile(path.resolve(here, '../fixtures', p));
const RUN_TIMEOUT = 300_000;

const server = serveDistForTests();

function openDream(context) {
  return openSection(context, server.url, { tab: 'deep-dream', panel: 'dream-panel' });
}

/** The image and the small VGG19, dropped on the section. */
async function dropImageAndVgg(page) {
  assert.equal(await page.textContent($('dream-hint')), 'Choose an image.');
  assert.equal(await page.isDisabled($('dream-start')), true);
  await dropOn(page, 'dream-image-input', 'content.png', await fixture('nst/content.png'));
  await page.waitForFunction(() => document.querySelector('[data-testid="dream-image-preview"]')?.naturalWidth === 40);
  assert.equal(await page.textContent($('dream-hint')), 'Load the VGG19 weights.');
  await dropOn(page, 'vgg-file', 'vgg19_small.pth', await fixture('networks/vgg19_small.pth'), 'application/octet-stream');
  await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: RUN_TIMEOUT });
}

async function setUp(page, { octaves, steps }) {
  await page.fill($('dream-size'), '40');
  await page.selectOption($('dream-layer'), 'conv3_1');
  await page.fill($('dream-octaves'), String(octaves));
  await page.fill($('dream-steps'), String(steps));
  await page.$eval($('dream-advanced'), (d) => { d.open = true; });
  await page.fill($('dream-step-size'), '6');
  await page.fill($('dream-jitter'), '2');
  await page.fill($('dream-preview-every'), '2');
}

const step = (page) => page.$eval($('dream-step'), (e) => Number(e.dataset.step));

async function waitResult(page) {
  const err = await waitJobEnd(page, { status: 'dream-status', error: 'dream-error', timeout: RUN_TIMEOUT });
  assert.equal(err, null, `the dream failed: ${err}`);
  return page.$eval($('dream-result'), (e) => ({ cancelled: e.dataset.cancelled === 'true', stepsDone: Number(e.dataset.stepsDone) }));
}

test('deep dream: octaves step by step with the objective and previews, a download of the size asked for; the weights serve style transfer too', async () => {
  await withContext({ webgpu: true, acceptDownloads: true }, async (context) => {
    const { page, errors } = await openDream(context);
    // Defaults: as the CLI's (the step size on the notebook's 0-255 scale).
    assert.equal(await page.inputValue($('dream-octaves')), '4');
    assert.equal(await page.inputValue($('dream-steps')), '10');
    assert.equal(await page.inputValue($('dream-layer')), 'conv4_3');
    assert.equal(await page.inputValue($('dream-step-size')), '1.5');
    await dropImageAndVgg(page);
    await setUp(page, { octaves: 2, steps: 4 });

    // A bad setting is refused on the page, before anything is sent.
    await page.fill($('dream-octave-scale'), '1');
    await page.click($('dream-start'));
    assert.equal(await page.textContent($('dream-error')), 'the octave scale must be more than 1 and at most 4, not 1');
    await page.fill($('dream-octave-scale'), '1.4');

    await page.click($('dream-start'));
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="dream-step"]')?.dataset.step) >= 1, null, { timeout: RUN_TIMEOUT });
    assert.equal(await page.$eval($('dream-step'), (e) => e.dataset.steps), '8');
    // The first octave works on the image shrunk by 1.4: 29x23.
    assert.match(await page.textContent($('dream-octave')), /octave [12] of 2 \((29x23|40x32)\)/);
    const result = await waitResult(page);
    assert.deepEqual(result, { cancelled: false, stepsDone: 8 });
    assert.equal(await page.$(`${$('dream-note')}`), null);
    // Every step's objective is charted, and the last is a positive number.
    assert.equal(await page.$eval($('dream-chart'), (e) => e.dataset.iterations), '8');
    const objective = await page.$eval($('dream-objective'), (e) => Number(e.dataset.value));
    assert.ok(Number.isFinite(objective) && objective > 0, `objective ${objective}`);
    assert.match(await page.textContent($('dream-result-caption')), /Result, 40x32, 8 steps in/);

    // The result is the image, dreamt on: the size kept, every pixel's value changed on average.
    const png = await downloadPng(page, $('dream-download'), 'content-dream.png');
    assert.deepEqual([png.width, png.height], [40, 32]);
    const input = await decodeInPage(page, await fixture('nst/content.png'));
    let diff = 0;
    for (let i = 0; i < input.px.length; i++) for (let c = 0; c < 3; c++) diff += Math.abs(input.px[i][c] - png.px[i][c]);
    diff /= input.px.length * 3;
    assert.ok(diff > 3, `the dream changed the image (mean difference ${diff.toFixed(2)} levels)`);
    const shown = await canvasPixels(page, $('dream-preview'));
    assert.deepEqual(shown.px.map((p) => p.slice(0, 3)), png.px.map((p) => p.slice(0, 3)), 'the shown result is the download');

    // The worker holds one VGG19: style transfer has it without loading it again.
    await page.click('#tab-style-transfer');
    assert.match(await page.textContent($('vgg-description')), /vgg19_small\.pth: VGG19 features/);
    assert.deepEqual(errors, []);
  });
});

test('deep dream: pause holds the step, resume goes on, cancel ends with the image so far', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const { page, errors } = await openDream(context);
    await dropImageAndVgg(page);
    await setUp(page, { octaves: 1, steps: 400 });
    await page.click($('dream-start'));
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="dream-step"]')?.dataset.step) >= 2, null, { timeout: RUN_TIMEOUT });
    await page.click($('dream-pause'));
    await page.waitForSelector(`${$('dream-status')}[data-state="paused"]`, { timeout: RUN_TIMEOUT });
    const held = await step(page);
    await page.waitForTimeout(600);
    assert.equal(await step(page), held, 'no step while paused');
    await page.click($('dream-resume'));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="dream-step"]')?.dataset.step) > n, held, { timeout: RUN_TIMEOUT });
    await page.click($('dream-cancel'));
    const result = await waitResult(page);
    assert.equal(result.cancelled, true);
    assert.ok(result.stepsDone > held && result.stepsDone < 400, `cancelled after ${result.stepsDone} steps`);
    assert.match(await page.textContent($('dream-note')), new RegExp(`Cancelled at step ${result.stepsDone} of 400`));
    // The section is usable again.
    assert.equal(await page.isDisabled($('dream-start')), false);
    assert.deepEqual(errors, []);
  });
});
