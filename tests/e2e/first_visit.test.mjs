// A lighter first visit (dist/ from `trunk build --release`): the page's wasm is the Yew UI
// alone, built without the `compute` feature (index.html), so it does not link Burn. Before
// that split it was 6.2 MB (1.46 MB gzipped); the budget is 1 MiB as stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstVisit } from '../../scripts/first-visit.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(here, '../../dist');
const UI_BUDGET = 1 << 20;

test('the UI wasm stays under 1 MiB and the worker carries Burn', () => {
  const files = firstVisit(DIST, { compress: false });
  const ui = files.filter((f) => f.group === 'page' && f.name.endsWith('.wasm'));
  const worker = files.filter((f) => f.group === 'worker' && f.name.endsWith('.wasm'));
  assert.equal(ui.length, 1, `one UI wasm in dist/: ${ui.map((f) => f.name)}`);
  assert.equal(worker.length, 1, `one worker wasm in dist/: ${worker.map((f) => f.name)}`);
  assert.ok(ui[0].raw < UI_BUDGET, `the UI wasm is ${ui[0].raw} bytes, over its ${UI_BUDGET}: does it link Burn again?`);
  // The worker holds the networks: if it were as small as the UI, the split went wrong the
  // other way (a worker without `compute` would not run anything).
  assert.ok(worker[0].raw > 10 * ui[0].raw, `worker ${worker[0].raw} bytes, UI ${ui[0].raw}`);
});
