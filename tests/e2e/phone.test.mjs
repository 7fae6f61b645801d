// The studio on a phone: no section is wider than the screen (no horizontal scrolling), at
// 390x844 (a current phone) and 360 px (the narrowest common one), with WebGPU on so the
// device banner shows the adapter's limits too, and every fold (advanced settings) open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveDistForTests, withBrowser, openPage } from './harness.mjs';

const TABS = ['start', 'style-transfer', 'deep-dream', 'pix2pix', 'cyclegan', 'training'];

const server = serveDistForTests();

test('on a phone no section scrolls sideways', async () => {
  await withBrowser({ webgpu: true }, async (browser) => {
    for (const [width, height] of [[390, 844], [360, 740]]) {
      const { page, errors } = await openPage(browser, server.url, {
        device: ['gpu', 'cpu'], pageOptions: { viewport: { width, height }, isMobile: true, hasTouch: true },
      });
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
  });
});
