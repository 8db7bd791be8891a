/* Page start-up: CSRF header for htmx, service-worker registration. */

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content;

document.body.addEventListener("htmx:configRequest", (event) => {
  // Every htmx POST carries the CSRF token in a header (flask-wtf reads X-CSRFToken).
  if (csrfToken) event.detail.headers["X-CSRFToken"] = csrfToken;
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/service-worker.js", { scope: "/" }).catch(() => {
    /* The app still works online without a service worker. */
  });
}
