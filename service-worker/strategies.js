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
    if (response.ok && !response.redirected && isHtml(response) && isFieldPage(request.url)) {
      // Keep the day's route and its case cards for when the network is gone; nothing else
      // with personal data is kept on the phone.
      await cache.put(key, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(key, { ignoreVary: true });
    if (cached) return cached;
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

function isHtml(response) {
  return (response.headers.get("Content-Type") || "").startsWith("text/html");
}

async function cachePages(urls) {
  // Called when the worker opens today's route: fetch every case card now, while online.
  const cache = await caches.open(PAGES_CACHE);
  for (const url of urls) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && !response.redirected && isHtml(response) && isFieldPage(url)) {
        await cache.put(new Request(url).url, response);
      }
    } catch (error) {
      /* Offline already: the pages cached earlier stay. */
    }
  }
}
