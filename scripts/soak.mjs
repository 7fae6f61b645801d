#!/usr/bin/env node
// Long runs in one worker, to see that its memory does not grow: one style transfer of many
// steps, one training run of many iterations, then many short style-transfer jobs, in one page
// (WebGPU on SwiftShader here; a GPU elsewhere, with CHROMIUM pointing at a browser that has
// one). Every few seconds it asks the worker for its memory (the diagnostics' "Memory now":
// the wasm linear memory, and the GPU memory Burn's runtime holds), and prints the samples.
// At the end it fails if, after each phase's warm-up (its first 10%), either grew by more than
// the bound.
//
//   node scripts/soak.mjs [--steps 2000] [--iterations 1000] [--jobs 20] [--size 64]
//                         [--bound-mb 16] [--every-s 10] [--json FILE]
//
// Needs dist/ (`scripts/test.sh`, or `trunk build --release`), or the build AI_ART_DIST names
// (a copy, so that dist/ can be rebuilt during the run), and the tools of
// `scripts/setup-tools.sh`. The small VGG19 fixture stands in for the real network (the
// worker's code paths are the same); on SwiftShader 2,000 steps at 64 px take about half an
// hour. Results of a run are in docs/testing.md ("Long runs").
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveDist, launch, openPage, $, makePng, DEVICE_TIMEOUT } from '../tests/e2e/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixture = (p) => fs.readFile(path.join(ROOT, 'tests/fixtures', p));

const { values: opt } = parseArgs({
  options: {
    steps: { type: 'string', default: '2000' },
    iterations: { type: 'string', default: '1000' },
    jobs: { type: 'string', default: '20' },
    size: { type: 'string', default: '64' },
    'bound-mb': { type: 'string', default: '16' },
    'every-s': { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});
const STEPS = Number(opt.steps);
const ITERATIONS = Number(opt.iterations);
const JOBS = Number(opt.jobs);
const BOUND = Number(opt['bound-mb']) * 1e6;
const EVERY_MS = Number(opt['every-s']) * 1000;
const HOUR = 3_600_000;

const samples = [];
const mb = (b) => (b / 1e6).toFixed(1);

/** Asks the worker for its memory (from the start tab) and records it under `phase` at `at`. */
async function sample(page, phase, at) {
  await page.click('#tab-start');
  await page.$eval($('diagnostics'), (d) => { d.open = true; });
  const before = await page.$eval($('memory'), (e) => e.dataset.id).catch(() => null);
  await page.click($('memory-sample'));
  await page.waitForFunction((b) => {
    const e = document.querySelector('[data-testid="memory"]');
    return e && e.dataset.id !== b;
  }, before, { timeout: 60_000 });
  const m = await page.$eval($('memory'), (e) => ({
    wasm: Number(e.dataset.wasm), gpuInUse: Number(e.dataset.gpuInUse || NaN), gpuReserved: Number(e.dataset.gpuReserved || NaN),
  }));
  const s = { phase, at, t: Date.now(), ...m };
  samples.push(s);
  console.log(`${phase.padEnd(14)} ${String(at).padStart(6)}  worker ${mb(s.wasm).padStart(7)} MB  GPU in use ${mb(s.gpuInUse).padStart(7)} MB  reserved ${mb(s.gpuReserved).padStart(7)} MB`);
}

/** Drops a file on the drop zone holding the input `testid`. */
async function dropOn(page, testid, name, buffer) {
  await page.evaluate(({ testid, name, b64 }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name));
    const zone = document.querySelector(`[data-testid="${testid}"]`).closest('.dropzone');
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { testid, name, b64: buffer.toString('base64') });
}

/** Samples every EVERY_MS until `done()` (read on `tab`) says the phase ended; returns its last position. */
async function watch(page, phase, tab, position, done) {
  for (;;) {
    await page.waitForTimeout(EVERY_MS);
    await page.click(`#tab-${tab}`);
    const at = await position();
    const finished = await done();
    await sample(page, phase, at);
    if (finished) return at;
  }
}

async function styleTransfer(page, steps) {
  await page.click('#tab-style-transfer');
  await page.fill($('size'), opt.size);
  await page.fill($('steps'), String(steps));
  await page.$eval($('stylize-advanced'), (d) => { d.open = true; });
  await page.fill($('preview-every'), '50');
  await page.click($('start'));
  await page.waitForSelector($('stylize-status'), { timeout: DEVICE_TIMEOUT });
}

const stylizeStep = (page) => () => page.$eval($('stylize-step'), (e) => Number(e.dataset.step)).catch(() => 0);
const stylizeDone = (page) => async () => (await page.$($('stylize-status'))) === null;

async function main() {
  const server = await serveDist();
  const browser = await launch({ webgpu: true });
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const { page, errors } = await openPage(context, server.url);
    page.setDefaultTimeout(HOUR);
    await sample(page, 'start', 0);

    // Phase 1: one long style transfer.
    await page.click('#tab-style-transfer');
    await dropOn(page, 'content-input', 'content.png', await fixture('nst/content.png'));
    await dropOn(page, 'style-input', 'style.png', await fixture('nst/style.png'));
    await dropOn(page, 'vgg-file', 'vgg19_small.pth', await fixture('networks/vgg19_small.pth'));
    await page.waitForSelector(`${$('vgg-description')}[data-state="loaded"]`, { timeout: DEVICE_TIMEOUT });
    await styleTransfer(page, STEPS);
    await watch(page, 'style-transfer', 'style-transfer', stylizeStep(page), stylizeDone(page));

    // Phase 2: one long Pix2Pix training run on small AB images.
    await page.click('#tab-training');
    const files = [0, 1, 2, 3].map((k) => ({ name: `pair${k}.png`, mimeType: 'image/png', buffer: makePng(64 + 2 * k, 32 + k) }));
    await page.setInputFiles($('train-files-ab'), files);
    // Enough epochs (two iterations each, no decay) for --iterations to be what ends the run.
    for (const [id, v] of [['train-size', '32'], ['train-batch', '2'], ['train-ngf', '8'], ['train-ndf', '8'],
      ['train-layers-d', '2'], ['train-epochs', String(ITERATIONS)], ['train-epochs-decay', '0'],
      ['train-max-iterations', String(ITERATIONS)], ['train-sample-every', '50'], ['train-save-every', '60']]) {
      await page.fill($(id), v);
    }
    await page.click($('train-start'));
    await page.waitForSelector($('train-run'), { timeout: DEVICE_TIMEOUT });
    await watch(page, 'training', 'training',
      () => page.$eval($('train-iteration'), (e) => Number(e.dataset.iteration)).catch(() => 0),
      async () => (await page.$($('train-status'))) === null);

    // Phase 3: many short style-transfer jobs, one after the other.
    for (let k = 1; k <= JOBS; k++) {
      await styleTransfer(page, 20);
      await page.waitForSelector($('stylize-status'), { state: 'detached' });
      await sample(page, 'jobs', k);
    }

    const unexpected = errors.filter((e) => !/the wgpu device was lost/.test(e));
    const report = summarise();
    if (opt.json) await fs.writeFile(opt.json, JSON.stringify({ options: opt, samples, report, errors: unexpected }, null, 2));
    if (unexpected.length) throw new Error(`errors in the page: ${unexpected.join('\n')}`);
    const over = report.filter((r) => r.growth.wasm > BOUND || r.growth.gpuInUse > BOUND || r.growth.gpuReserved > BOUND);
    if (over.length) throw new Error(`memory grew past ${mb(BOUND)} MB after warm-up: ${JSON.stringify(over)}`);
    console.log(`\nno growth past ${mb(BOUND)} MB after warm-up in any phase`);
  } finally {
    await browser.close();
    await server.close();
  }
}

/** Per phase: the values at the end of its warm-up (first 10% of its samples, at least one), at its end, and the growth. */
function summarise() {
  const phases = [...new Set(samples.map((s) => s.phase))].filter((p) => p !== 'start');
  const report = phases.map((phase) => {
    const of = samples.filter((s) => s.phase === phase);
    const warm = of[Math.max(0, Math.ceil(of.length / 10) - 1)];
    const last = of[of.length - 1];
    const peak = (k) => Math.max(...of.map((s) => s[k]));
    const growth = Object.fromEntries(['wasm', 'gpuInUse', 'gpuReserved'].map((k) => [k, Math.max(0, peak(k) - warm[k])]));
    return { phase, samples: of.length, warm, last, growth };
  });
  console.log('\nphase           samples  worker MB (warm -> end, growth)   GPU in use MB            GPU reserved MB');
  for (const r of report) {
    const col = (k) => `${mb(r.warm[k])} -> ${mb(r.last[k])} (+${mb(r.growth[k])})`.padEnd(25);
    console.log(`${r.phase.padEnd(15)} ${String(r.samples).padStart(7)}  ${col('wasm')}  ${col('gpuInUse')}  ${col('gpuReserved')}`);
  }
  return report;
}

main().catch((e) => { console.error(e); process.exit(1); });
