/* Fetch strategies: network-first with a timeout for pages, stale-while-revalidate for static.
   What may be kept is decided by pageDecision (outbox-core.js). */

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

function keptUntil(response) {
  return Date.parse(response.headers.get(KEEP_HEADER) || "");
}

function answerOf(response) {
  return {
    ok: response.ok,
    status: response.status,
    type: response.type,
    redirected: response.redirected,
    html: (response.headers.get("Content-Type") || "").startsWith("text/html"),
    keepUntil: keptUntil(response),
    loggedOut: response.headers.get(LOGGED_OUT_HEADER) === "1",
  };
}

function forgetEverySession() {
  // Nobody is logged in in this browser: no page of the last session stays readable.
  return serially(() => forgetSession(CONTRACT.storage));
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
  const decision = pageDecision(answerOf(response), new URL(request.url).pathname, Date.now(), CONTRACT);
  if (decision === "keep") {
    // Keep today's list and the cards of today's and tomorrow's visits for when the network
    // is gone, each until the server's keep-until time; nothing else is kept.
    const copy = response.clone();
    await serially(() => cache.put(key, copy));
  } else if (decision === "drop") {
    await serially(() => cache.delete(key)); // reassigned, closed, read-only, or logged out
  } else if (decision === "forget-all") {
    await forgetEverySession();
  } else if (decision === "use-kept") {
    const kept = await keptCopy(cache, key); // the server is down for a moment
    if (kept) return kept;
  }
  return response;
}

async function keptCopy(cache, key) {
  // The kept copy if its time has not passed; an expired one is deleted, never shown.
  const cached = await cache.match(key, { ignoreVary: true });
  if (cached && !hasExpired(keptUntil(cached), Date.now())) return cached;
  if (cached) {
    await serially(async () => {
      const again = await cache.match(key, { ignoreVary: true });
      if (again && hasExpired(keptUntil(again), Date.now())) await cache.delete(key);
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

function dropExpiredPages(keep) {
  // Pages whose day is over go; with `keep` (the URLs on the Today page just opened), so do
  // case cards no longer on it.
  return serially(async () => {
    const cache = await caches.open(PAGES_CACHE);
    for (const request of await cache.keys()) {
      const path = new URL(request.url).pathname;
      const response = await cache.match(request, { ignoreVary: true });
      const gone = keep && path !== "/today" && !keep.has(path);
      if (!response || hasExpired(keptUntil(response), Date.now()) || gone) await cache.delete(request);
    }
  });
}

async function cachePages(urls) {
  // Called when the worker opens Today: fetch every case card on it now, while online, and
  // let go of the cards that are no longer on it.
  await dropExpiredPages(new Set(urls.map((url) => new URL(url, self.location.origin).pathname)));
  const cache = await caches.open(PAGES_CACHE);
  for (const url of urls) {
    const key = new Request(url).url;
    try {
      const response = await fetch(url, { credentials: "same-origin", redirect: "manual" });
      const decision = pageDecision(answerOf(response), new URL(key).pathname, Date.now(), CONTRACT);
      if (decision === "keep") await serially(() => cache.put(key, response));
      else if (decision === "drop") await serially(() => cache.delete(key));
      else if (decision === "forget-all") return forgetEverySession();
    } catch (error) {
      /* Offline already: the pages cached earlier stay. */
    }
  }
}
