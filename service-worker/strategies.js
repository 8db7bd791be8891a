/* Fetch strategies: network-first with a timeout for pages, stale-while-revalidate for static. */

function cacheKeyFor(request) {
  // htmx fragments and full pages share URLs; keep them apart in the cache.
  const url = new URL(request.url);
  if (request.headers.get("HX-Request") === "true") url.searchParams.set("__hx", "1");
  return url.toString();
}

// Every write to and delete from the pages cache goes through this queue, one after another,
// so a sweep of expired pages can never delete a copy a fetch has just stored.
let pagesQueue = Promise.resolve();
function serially(task) {
  const run = pagesQueue.then(task);
  pagesQueue = run.catch(() => {});
  return run;
}

async function networkFirst(request) {
  const cache = await caches.open(PAGES_CACHE);
  const key = cacheKeyFor(request);
  let response;
  try {
    response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), NETWORK_TIMEOUT_MS)),
    ]);
  } catch (error) {
    return (await keptCopy(cache, key)) || offlineAnswer(request);
  }
  if (mayKeep(response, request.url)) {
    // Keep today's list and the cards of today's and tomorrow's visits for when the network
    // is gone, each until the server's X-Doorstep-Keep-Until; nothing else is kept.
    const copy = response.clone();
    await serially(() => cache.put(key, copy));
  } else if (isFieldPage(request.url) && saysNotToKeep(response)) {
    await serially(() => cache.delete(key)); // reassigned, closed, read-only, or logged out
  } else if (isFieldPage(request.url) && response.status >= 500) {
    const kept = await keptCopy(cache, key); // the server is down for a moment
    if (kept) return kept;
  }
  return response;
}

function saysNotToKeep(response) {
  // A real answer that the page is no longer the worker's to keep: a page without a keep-until
  // time, one refused or gone, or a redirect to the login page. A 5xx says nothing of the kind.
  if (response.redirected || [401, 403, 404, 410].includes(response.status)) return true;
  return response.ok && isHtml(response);
}

async function keptCopy(cache, key) {
  // The kept copy if its time has not passed; an expired one is deleted, never shown.
  const cached = await cache.match(key, { ignoreVary: true });
  if (cached && !hasExpired(cached)) return cached;
  if (cached) {
    await serially(async () => {
      const again = await cache.match(key, { ignoreVary: true });
      if (again && hasExpired(again)) await cache.delete(key);
    });
  }
  return null;
}

async function offlineAnswer(request) {
  if (request.mode === "navigate") {
    const shell = await caches.open(SHELL_CACHE);
    return (await shell.match(OFFLINE_URL)) || Response.error();
  }
  return Response.error();
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

function dropExpiredPages(keep) {
  // Pages whose day is over go; with `keep` (the URLs on the Today page just opened), so do
  // case cards no longer on it.
  return serially(async () => {
    const cache = await caches.open(PAGES_CACHE);
    for (const request of await cache.keys()) {
      const path = new URL(request.url).pathname;
      const response = await cache.match(request, { ignoreVary: true });
      const gone = keep && path !== "/today" && !keep.has(path);
      if (!response || hasExpired(response) || gone) await cache.delete(request);
    }
  });
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
        await serially(() => cache.put(new Request(url).url, response));
      } else if (saysNotToKeep(response)) {
        await serially(() => cache.delete(new Request(url).url));
      }
    } catch (error) {
      /* Offline already: the pages cached earlier stay. */
    }
  }
}
