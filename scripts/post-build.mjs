// trunk's post_build hook (Trunk.toml), on the staged build (TRUNK_STAGING_DIR, the build's
// output before trunk moves it to dist/):
// 1. moves the start-up module trunk writes inline into index.html into a file of its own,
//    so the page runs under a Content-Security-Policy without inline scripts (Trunk.toml's
//    [serve] headers; the e2e tests serve the same policy);
// 2. writes the service worker's precache list and version into the staged sw.js
//    (static/sw.js), so the worker knows every file of this build and a new build is a new
//    worker.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('post-build.mjs runs as trunk\'s post_build hook (TRUNK_STAGING_DIR is not set)');

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');

// 1. No inline script.
const indexPath = path.join(dir, 'index.html');
const html = await fs.readFile(indexPath, 'utf8');
const starts = [];
const external = html.replace(/<script([^>]*)>([\s\S]*?)<\/script>/g, (tag, attrs, code) => {
  if (/\bsrc=/.test(attrs)) return tag;
  const name = `start-${sha256(code).slice(0, 16)}.js`;
  starts.push(fs.writeFile(path.join(dir, name), code));
  const type = /\btype="module"/.test(attrs) ? ' type="module"' : '';
  return `<script${type} src="./${name}"></script>`;
});
await Promise.all(starts);
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(external)) throw new Error('index.html still has an inline script');
await fs.writeFile(indexPath, external);

async function* files(root, rel = '') {
  for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const name = path.posix.join(rel, entry.name);
    if (entry.isDirectory()) yield* files(root, name);
    else yield name;
  }
}

const list = [];
const hash = crypto.createHash('sha256');
for await (const name of files(dir)) {
  if (name === 'sw.js' || name.startsWith('.')) continue;
  list.push(name);
}
list.sort();
for (const name of list) hash.update(name).update(await fs.readFile(path.join(dir, name)));
const version = hash.digest('hex').slice(0, 16);
// The page itself is cached as './' (the navigation URL), not as index.html.
const urls = ['./', ...list.filter((n) => n !== 'index.html')];

const sw = path.join(dir, 'sw.js');
const source = await fs.readFile(sw, 'utf8');
const filled = source
  .replace("const VERSION = 'dev';", `const VERSION = '${version}';`)
  .replace('const PRECACHE = [];', `const PRECACHE = ${JSON.stringify(urls)};`);
if (filled === source) throw new Error('sw.js has no VERSION / PRECACHE placeholders to fill');
await fs.writeFile(sw, filled);
console.log(`post-build.mjs: ${starts.length} start-up script(s) moved out of index.html; precache of ${urls.length} files, version ${version}`);
