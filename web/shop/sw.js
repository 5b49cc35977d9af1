// The customer app's service worker: the app shell (the page, its scripts, styles, icon
// and manifest) is cached when the worker installs, so /shop opens without a network.
// Shell requests are answered from the cache at once and refreshed from the server
// behind the answer (the next load gets the new copy); anything else, the API (/api/*,
// /v1/*), event streams and the payment pages, goes to the network untouched and is
// never stored. The cache's name carries the build's version (the server writes it in
// below when it serves this file, from the hashes of every file of the app), so a new
// build installs a new worker, which fills its own cache and deletes the old ones.
const VERSION = '@SHELL_VERSION@';
const PREFIX = 'shopeasy-shop-';
const CACHE = `${PREFIX}${VERSION}`;
const SHELL = [
  '/shop', '/shop/app.js', '/shop/api.js', '/shop/util.js', '/shop/map.js', '/shop/stream.js',
  '/shop/shop.css', '/shop/icon.svg', '/shop/manifest.webmanifest',
];
const SHELL_PATHS = new Set(SHELL);

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // Revalidated with the server (ETags), never taken from a stale HTTP cache.
    await cache.addAll(SHELL.map((p) => new Request(p, { cache: 'no-cache' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    // The page that registered the worker is served by it from now on, not from its next load.
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // Only the shell: the API and everything else is left to the network (no respondWith).
  if (url.origin !== self.location.origin || !SHELL_PATHS.has(url.pathname)) return;
  const key = url.pathname;
  const refreshed = fetch(key, { cache: 'no-cache' }).then(async (response) => {
    if (response.ok) await (await caches.open(CACHE)).put(key, response.clone());
    return response;
  });
  // The refresh may outlive the answer; offline it fails quietly.
  event.waitUntil(refreshed.then(() => {}, () => {}));
  event.respondWith((async () => {
    const hit = await (await caches.open(CACHE)).match(key);
    return hit || refreshed;
  })());
});
