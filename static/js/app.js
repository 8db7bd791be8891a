/* Page start-up: CSRF header for htmx, upload progress, print buttons, service-worker registration. */

document.body.addEventListener("htmx:configRequest", (event) => {
  // Every htmx POST carries the CSRF token in a header (flask-wtf reads X-CSRFToken).
  // Read it per request: a boosted login swaps the page and the session's token with it.
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  if (token) event.detail.headers["X-CSRFToken"] = token;
});

document.body.addEventListener("htmx:xhr:progress", (event) => {
  // Large arrears lists take a while on a slow line: show how much has gone up.
  const bar = document.getElementById("upload-progress");
  if (!bar || !event.detail.lengthComputable) return;
  const percent = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.value = percent;
  bar.textContent = `${percent}%`;
});

document.addEventListener("click", (event) => {
  // Any <button data-print> prints the page (an inline onclick would break the CSP); a
  // delegated listener also serves buttons that htmx swaps in later.
  if (event.target instanceof Element && event.target.closest("button[data-print]")) window.print();
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker
    .register("/service-worker.js", { scope: "/" })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      // Opening Today makes every case card on it available offline, and lets go of the cards
      // no longer on it (all of them when the list is empty).
      if (!document.querySelector("[data-offline-list]") || !registration.active) return;
      const urls = [...document.querySelectorAll("[data-offline-url]")].map((a) => a.dataset.offlineUrl);
      registration.active.postMessage({ type: "cache-pages", urls });
    })
    .catch(() => {
      /* The app still works online without a service worker. */
    });
}
