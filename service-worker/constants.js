/* Names shared by the service worker's parts. SW_VERSION and CONTRACT (the outbox contract,
   fieldapp/domain/outbox.py) are written above this by the server, then outbox-core.js and
   outbox-store.js, the same code the pages run. */
const SHELL_CACHE = `${CONTRACT.storage.shell_cache_prefix}${SW_VERSION}`;
const PAGES_CACHE = CONTRACT.storage.pages_cache;
const OFFLINE_URL = CONTRACT.storage.offline_url;
const SHELL_URLS = [
  OFFLINE_URL,
  "/outbox-contract.js",
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/outbox.js",
  "/static/js/outbox-core.js",
  "/static/js/outbox-store.js",
  "/static/js/card.js",
  "/static/js/vendor/htmx.min.js",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];
const NETWORK_TIMEOUT_MS = 4000;
const KEEP_HEADER = CONTRACT.headers.keep_until;
const LOGGED_OUT_HEADER = CONTRACT.headers.logged_out;
