// End-to-end test of the live view of the image-to-image sections (dist/ from
// `trunk build --release`) in headless Chromium on WebGPU (SwiftShader), with Chromium's fake
// camera playing a Y4M file written here (a moving colour pattern, 64x48 at 10 frames/s) and
// the small fast style network fixture (tests/fixtures/networks/fast_style_small.pth) as the
// model. What the generator computes is checked against PyTorch elsewhere
// (image_to_image.test.mjs, tests/browser.rs); this checks the frames flow, the rate is shown,
// the recording is a WebM a browser plays, and Stop releases the camera.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $, canvasPixels, openSection, serveDistForTests, withContext } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../fixtures');
const TIMEOUT = 120_000;
const [W, H] = [64, 48];

const server = serveDistForTests();

/** A YUV4MPEG2 (4:2:0) video of `frames` frames: a diagonal gradient moving right, tinted. */
function y4m(frames) {
  const parts = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let f = 0; f < frames; f++) {
    const y = Buffer.alloc(W * H);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) y[r * W + c] = (c * 3 + r * 2 + f * 8) % 256;
    const u = Buffer.alloc((W / 2) * (H / 2), 96);
    const v = Buffer.alloc((W / 2) * (H / 2), 176);
    parts.push(Buffer.from('FRAME\n'), y, u, v);
  }
  return Buffer.concat(parts);
}

const frames = (page) => page.$eval($('live-status'), (e) => Number(e.dataset.frames));

async function waitFrames(page, atLeast) {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="live-status"]')?.dataset.frames) >= n,
    atLeast, { timeout: TIMEOUT });
}

/** Every camera stream the page opened has all its tracks ended. */
const camerasReleased = (page) => page.evaluate(() => window.__streams.length > 0
  && window.__streams.every((s) => s.getTracks().every((t) => t.readyState === 'ended')));

test('live: the fake camera through a fast style network, with the rate shown; a WebM recording that plays and runs again as a video file; Stop releases the camera', async () => {
  const video = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'ai-art-live-')), 'camera.y4m');
  await fs.writeFile(video, y4m(20));
  const args = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`];
  await withContext({ webgpu: true, args, acceptDownloads: true }, async (context) => {
    // Keep every stream the page opens, to check that Stop ends its tracks.
    await context.addInitScript(() => {
      window.__streams = [];
      const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = async (c) => { const s = await open(c); window.__streams.push(s); return s; };
    });
    const { page, errors } = await openSection(context, server.url, { tab: 'cyclegan', panel: 'cyclegan-panel', pageOptions: { acceptDownloads: true } });
    assert.equal(await page.isDisabled($('live-camera')), true, 'no model, no camera');
    await page.setInputFiles($('model-file'), { name: 'style.pth', mimeType: 'application/octet-stream', buffer: await fs.readFile(path.join(FIXTURES, 'networks/fast_style_small.pth')) });
    await page.waitForSelector(`${$('model-description')}[data-state="loaded"]`, { timeout: TIMEOUT });

    // The camera: frames flow, at the camera's size (smaller than the resolution asked for).
    await page.selectOption($('live-resolution'), '128');
    await page.click($('live-camera'));
    await waitFrames(page, 5);
    assert.equal(await page.isDisabled($('live-resolution')), true, 'the resolution is set while live');
    const fps = await page.$eval($('live-status'), (e) => Number(e.dataset.fps));
    assert.ok(fps > 0, `frames per second shown: ${fps}`);
    assert.match(await page.textContent($('live-status')), /From the camera: \d+ frames, \d+\.\d frames\/s/);
    const out = await canvasPixels(page, $('live-output'));
    assert.deepEqual([out.width, out.height], [W, H]);
    assert.ok(new Set(out.px.map((p) => p.join(','))).size > 10, 'a picture, not a flat colour');
    // Smoothing can be changed while it runs; frames keep coming.
    await page.selectOption($('live-smoothing'), '0.8');
    const before = await frames(page);
    await waitFrames(page, before + 3);

    // Record about a second and a half of the output.
    await page.click($('live-record'));
    await page.waitForSelector($('live-record-stop'));
    const recordedFrom = await frames(page);
    await page.waitForTimeout(1500);
    assert.ok(await frames(page) > recordedFrom, 'frames during the recording');
    await page.click($('live-record-stop'));
    await page.waitForSelector($('live-download'), { timeout: TIMEOUT });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click($('live-download'))]);
    assert.equal(download.suggestedFilename(), 'cyclegan-live.webm');
    const webm = await fs.readFile(await download.path());
    assert.deepEqual([...webm.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'an EBML (WebM) file');
    assert.ok(webm.length > 1000, `${webm.length} bytes`);
    // The browser plays it: its frames have the output's size.
    const played = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const v = document.createElement('video');
      v.muted = true;
      v.src = URL.createObjectURL(new Blob([bytes], { type: 'video/webm' }));
      await new Promise((ok, fail) => { v.onloadeddata = ok; v.onerror = () => fail(new Error(v.error?.message ?? 'error')); });
      return { width: v.videoWidth, height: v.videoHeight };
    }, webm.toString('base64'));
    assert.deepEqual(played, { width: W, height: H });

    // Stop: the frames end and the camera is released.
    await page.click($('live-stop'));
    await page.waitForFunction(() => !document.querySelector('[data-testid="live-status"]'));
    assert.equal(await camerasReleased(page), true, 'every camera track ended');

    // The recording, as a video file: it runs through the model the same way.
    await page.setInputFiles($('live-file'), { name: 'recorded.webm', mimeType: 'video/webm', buffer: webm });
    await waitFrames(page, 3);
    assert.match(await page.textContent($('live-status')), /From recorded\.webm: \d+ frames/);
    // A camera started now, then replaced by the file again, is released too.
    await page.click($('live-camera'));
    await page.waitForFunction(() => window.__streams.length === 2);
    await waitFrames(page, 2);
    await page.setInputFiles($('live-file'), { name: 'recorded.webm', mimeType: 'video/webm', buffer: webm });
    await page.waitForFunction(() => /From recorded\.webm/.test(document.querySelector('[data-testid="live-status"]')?.textContent));
    assert.equal(await camerasReleased(page), true, 'the second camera stream ended when the file replaced it');
    await page.click($('live-stop'));
    assert.equal(await page.$($('live-error')), null);
    assert.deepEqual(errors, []);
  });
});
