// The studio's service worker: the app works offline once visited, and a new deploy is
// offered with a "reload" prompt rather than half-loaded.
//
// * Precache: everything trunk built (the app shell, the hashed wasm and JS, the samples,
//   the built-in model), listed below by scripts/post-build.mjs after each build (trunk's
//   post_build hook, Trunk.toml), with VERSION a hash of those files: a new build is a new
//   service worker, and the old shell cache is dropped when the new one takes over.
// * index.html (navigations): network first, so a deploy is seen at once; the cached copy
//   when the network fails.
// * Everything else of this origin: cache first (file names are hashed; the rest is
//   versioned by VERSION). Range requests and other origins pass through untouched: the
//   worker keeps downloaded models in its own Cache API store (src/worker/fetch.rs).
const VERSION = 'dev'; // scripts/post-build.mjs
const PRECACHE = []; // scripts/post-build.mjs
const SHELL = `ai-art-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })))));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('ai-art-shell-') && key !== SHELL) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// The page's "reload" button: the waiting worker takes over (register-sw.js reloads then).
self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

async function networkFirst(request) {
  const cache = await caches.open(SHELL);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put('./', response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match('./');
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || request.headers.has('range')) return;
  if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request));
    return;
  }
  event.respondWith(caches.open(SHELL).then((cache) => cache.match(request)).then((hit) => hit ?? fetch(request)));
});
