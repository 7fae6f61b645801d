// Accessibility (dist/ from `trunk build --release`, headless Chromium on WebGPU through
// SwiftShader): axe-core (npm, pinned in package.json) finds no serious or critical violation
// in any section with its folds open, and the tabs work from the keyboard alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDistForTests, withContext, openPage } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const AXE = path.resolve(here, '../../node_modules/axe-core/axe.min.js');
const TABS = ['start', 'style-transfer', 'deep-dream', 'pix2pix', 'cyclegan', 'training'];

const server = serveDistForTests();

/** axe-core's serious and critical violations on the page as it is, one line each. */
async function violations(page) {
  // Evaluated through the DevTools protocol: a <script> tag (addScriptTag) would be an inline
  // script, which the app's Content-Security-Policy refuses.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await fs.readFile(AXE, 'utf8'));
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

test('no serious or critical axe-core violation in any section', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const { page, errors } = await openPage(context, server.url);
    for (const tab of TABS) {
      await page.click(`#tab-${tab}`);
      await page.$$eval('details', (folds) => folds.forEach((d) => { d.open = true; }));
      assert.deepEqual(await violations(page), [], `${tab}: axe-core violations`);
    }
    assert.deepEqual(errors, []);
  });
});

test('the tabs work from the keyboard: Tab reaches them, arrows move between them, Enter opens', async () => {
  await withContext({ webgpu: true }, async (context) => {
    const { page } = await openPage(context, server.url);
    await page.focus('#tab-start');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-style-transfer');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#section-style-transfer');
    assert.equal(await page.getAttribute('#tab-style-transfer', 'aria-selected'), 'true');
    await page.keyboard.press('End');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-training');
    await page.keyboard.press('Home');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-start');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-training', 'arrows wrap around');
    // The panel is labelled by its tab.
    assert.equal(await page.getAttribute('main', 'role'), 'tabpanel');
    assert.equal(await page.getAttribute('main', 'aria-labelledby'), 'tab-style-transfer');
  });
});
