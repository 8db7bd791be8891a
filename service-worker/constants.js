/* Names shared by the service worker's parts. SW_VERSION is prepended by the server. */
const SHELL_CACHE = `doorstep-shell-${SW_VERSION}`;
const PAGES_CACHE = "doorstep-pages";
const OFFLINE_URL = "/offline";
const SHELL_URLS = [
  OFFLINE_URL,
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/js/outbox.js",
  "/static/js/card.js",
  "/static/js/vendor/htmx.min.js",
  "/static/icons/icon-192.png",
  "/manifest.webmanifest",
];
const NETWORK_TIMEOUT_MS = 4000;
// The server's word on how long a page may be kept on the phone (ISO 8601).
const KEEP_HEADER = "X-Doorstep-Keep-Until";
// The only pages ever kept for offline use: Today and case cards (each only while the
// server's X-Doorstep-Keep-Until allows).
const FIELD_PAGE_PATTERNS = [/^\/today$/, /^\/field\/cases\/\d+$/];
