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
// The only pages kept for offline use: the day's route and its case cards.
const FIELD_PAGE_PATTERNS = [/^\/today$/, /^\/field\/cases\/\d+$/];
