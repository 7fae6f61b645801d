// The studio on a phone: no section is wider than the screen (no horizontal scrolling), at
// 390x844 (a current phone) and 360 px (the narrowest common one), with WebGPU on so the
// device banner shows the adapter's limits too, and every fold (advanced settings) open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serveDist, launch, watchErrors } from './harness.mjs';

const DEVICE_TIMEOUT = 120_000;
const TABS = ['image-check', 'style-transfer', 'pix2pix', 'cyclegan', 'training'];

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

test('on a phone no section scrolls sideways', async () => {
  const browser = await launch({ webgpu: true });
  try {
    for (const [width, height] of [[390, 844], [360, 740]]) {
      const page = await browser.newPage({ viewport: { width, height }, isMobile: true, hasTouch: true });
      const errors = watchErrors(page);
      await page.goto(server.url);
      await page.waitForSelector('#device[data-state="gpu"], #device[data-state="cpu"]', { timeout: DEVICE_TIMEOUT });
      for (const tab of TABS) {
        await page.click(`#tab-${tab}`);
        await page.$$eval('details', (folds) => folds.forEach((d) => { d.open = true; }));
        const { scrollWidth, innerWidth, wider } = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          // What sticks out, to say so when it fails.
          wider: [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .slice(0, 5)
            .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''} ${e.className}`),
        }));
        assert.ok(scrollWidth <= innerWidth, `${tab} at ${width} px is ${scrollWidth} px wide: ${wider.join(', ')}`);
        // Every tab stays reachable without scrolling.
        const tabs = await page.$$eval('nav .tab', (ts) => ts.map((t) => t.getBoundingClientRect().right));
        assert.ok(tabs.every((right) => right <= innerWidth), `${tab} at ${width} px: a tab is off screen`);
      }
      assert.deepEqual(errors, [], `console errors at ${width} px`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
});
