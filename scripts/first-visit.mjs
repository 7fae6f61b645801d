// What a first visit downloads, from a trunk build (dist/ by default): every file with its
// size as stored, gzipped (level 9) and brotli-compressed (quality 11), grouped by when the
// browser fetches it. Prints a Markdown table (docs/benchmarks.md, README).
//
//   node scripts/first-visit.mjs [DIST]
//
// The groups: the page (what runs before the studio shows: index.html, the UI's JS and wasm,
// the stylesheet), the worker (its JS and wasm, fetched as the page starts it) and what the
// service worker precaches in the background after that (the built-in model, the samples,
// the icons). tests/e2e/first-visit.test.mjs uses `firstVisit` to hold the UI under its budget.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

function* walk(root, rel = '') {
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue; // trunk's staging folder during a build
    const name = path.posix.join(rel, entry.name);
    if (entry.isDirectory()) yield* walk(root, name);
    else yield name;
  }
}

export function group(name) {
  if (/^worker/.test(name)) return 'worker';
  if (/^(models|samples|icons)\//.test(name)) return 'precached in the background';
  return 'page';
}

/** Every file of the build with its group and sizes (raw, gzip, brotli), in bytes; with
 * `compress: false` only the sizes as stored (brotli at quality 11 takes minutes on 2 cores). */
export function firstVisit(dist, { compress = true } = {}) {
  const files = [];
  for (const name of [...walk(dist)].sort()) {
    const file = path.join(dist, name);
    if (!compress) {
      files.push({ name, group: group(name), raw: fs.statSync(file).size });
      continue;
    }
    const bytes = fs.readFileSync(file);
    files.push({
      name,
      group: group(name),
      raw: bytes.length,
      gzip: zlib.gzipSync(bytes, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    });
  }
  return files;
}

const mb = (n) => (n / 1e6).toFixed(2);

function table(files) {
  const rows = ['| group | file | as stored (MB) | gzip (MB) | brotli (MB) |', '|---|---|---:|---:|---:|'];
  const groups = ['page', 'worker', 'precached in the background'];
  const sum = (list, key) => list.reduce((s, f) => s + f[key], 0);
  for (const g of groups) {
    const list = files.filter((f) => f.group === g);
    const big = list.filter((f) => f.raw >= 100_000);
    const small = list.filter((f) => f.raw < 100_000);
    for (const f of big) rows.push(`| ${g} | \`${f.name}\` | ${mb(f.raw)} | ${mb(f.gzip)} | ${mb(f.brotli)} |`);
    if (small.length) rows.push(`| ${g} | ${small.length} smaller files | ${mb(sum(small, 'raw'))} | ${mb(sum(small, 'gzip'))} | ${mb(sum(small, 'brotli'))} |`);
    rows.push(`| **${g}** | **all** | **${mb(sum(list, 'raw'))}** | **${mb(sum(list, 'gzip'))}** | **${mb(sum(list, 'brotli'))}** |`);
  }
  return rows.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
  console.log(table(firstVisit(dist)));
}
