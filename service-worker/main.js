/* Service worker lifecycle and routing. */

self.addEventListener("install", (event) => {
  // Take over at once: the outbox lives in IndexedDB, not in the worker, so nothing waits on it.
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL_URLS)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(CONTRACT.storage.shell_cache_prefix) && name !== SHELL_CACHE)
          .map((name) => caches.delete(name)),
      );
      await dropExpiredPages();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
  if (event.data && event.data.type === "cache-pages") event.waitUntil(cachePages(event.data.urls || []));
  if (event.data && event.data.type === "forget-session") event.waitUntil(forgetEverySession());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/") || url.pathname === "/outbox-contract.js") {
    event.respondWith(staleWhileRevalidate(request));
  } else if (request.mode === "navigate" || request.headers.get("HX-Request") === "true") {
    event.respondWith(networkFirst(request));
    if (request.mode === "navigate") event.waitUntil(dropExpiredPages());
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(sendFromWorker());
});

self.addEventListener("push", (event) => {
  // A phone left in a drawer still lets go of yesterday's pages when a reminder wakes it.
  event.waitUntil(dropExpiredPages());
});
