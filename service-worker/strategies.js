/* Fetch strategies: network-first with a timeout for pages, stale-while-revalidate for static. */

function cacheKeyFor(request) {
  // htmx fragments and full pages share URLs; keep them apart in the cache.
  const url = new URL(request.url);
  if (request.headers.get("HX-Request") === "true") url.searchParams.set("__hx", "1");
  return url.toString();
}

async function networkFirst(request) {
  const cache = await caches.open(PAGES_CACHE);
  const key = cacheKeyFor(request);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), NETWORK_TIMEOUT_MS)),
    ]);
    if (mayKeep(response, request.url)) {
      // Keep today's list and the cards of today's and tomorrow's visits for when the network
      // is gone, each until the server's X-Doorstep-Keep-Until; nothing else is kept.
      await cache.put(key, response.clone());
    } else if (isFieldPage(request.url)) {
      await cache.delete(key); // no longer the worker's to keep (reassigned, closed, read-only)
    }
    return response;
  } catch (error) {
    const cached = await cache.match(key, { ignoreVary: true });
    if (cached && !hasExpired(cached)) return cached;
    if (cached) await cache.delete(key);
    if (request.mode === "navigate") {
      const shell = await caches.open(SHELL_CACHE);
      return (await shell.match(OFFLINE_URL)) || Response.error();
    }
    return Response.error();
  }
}

async function staleWhileRevalidate(request) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request);
  const network = fetch(request)
    .then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    })
    .catch(() => cached);
  return cached || network;
}

function isFieldPage(url) {
  const path = new URL(url, self.location.origin).pathname;
  return FIELD_PAGE_PATTERNS.some((pattern) => pattern.test(path));
}

function keptUntil(response) {
  const until = Date.parse(response.headers.get(KEEP_HEADER) || "");
  return Number.isNaN(until) ? 0 : until;
}

function hasExpired(response) {
  return keptUntil(response) <= Date.now();
}

function mayKeep(response, url) {
  return response.ok && !response.redirected && isHtml(response) && isFieldPage(url) && !hasExpired(response);
}

async function dropExpiredPages(keep) {
  // Pages whose day is over go; with `keep` (the URLs on the Today page just opened), so do
  // case cards no longer on it.
  const cache = await caches.open(PAGES_CACHE);
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    const response = await cache.match(request, { ignoreVary: true });
    const gone = keep && path !== "/today" && !keep.has(path);
    if (!response || hasExpired(response) || gone) await cache.delete(request);
  }
}

function isHtml(response) {
  return (response.headers.get("Content-Type") || "").startsWith("text/html");
}

async function cachePages(urls) {
  // Called when the worker opens Today: fetch every case card on it now, while online, and
  // let go of the cards that are no longer on it.
  await dropExpiredPages(new Set(urls.map((url) => new URL(url, self.location.origin).pathname)));
  const cache = await caches.open(PAGES_CACHE);
  for (const url of urls) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (mayKeep(response, url)) {
        await cache.put(new Request(url).url, response);
      }
    } catch (error) {
      /* Offline already: the pages cached earlier stay. */
    }
  }
}
