// trunk's post_build hook (Trunk.toml): writes the service worker's precache list and
// version into the staged sw.js (static/sw.js), so the worker knows every file of this build
// and a new build is a new worker. TRUNK_STAGING_DIR is the build's output before trunk
// moves it to dist/.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('precache.mjs runs as trunk\'s post_build hook (TRUNK_STAGING_DIR is not set)');

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
console.log(`precache.mjs: ${urls.length} files, version ${version}`);
