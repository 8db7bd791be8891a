/* The Reminders page's "This phone" part: is Doorstep installed (home-screen app) or in a
   browser tab, may the browser clear what the phone keeps, and how to install it. */

const section = document.getElementById("this-phone");
const text = section.dataset;

function installed() {
  return window.matchMedia?.("(display-mode: standalone)").matches || navigator.standalone === true;
}

function isIos() {
  // iPadOS reports itself as a Mac; a Mac has no touch screen.
  return /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
}

async function kept() {
  try {
    return Boolean(await navigator.storage?.persisted?.());
  } catch (error) {
    return false;
  }
}

async function show() {
  const app = installed();
  section.dataset.installed = app ? "1" : "0";
  document.getElementById("phone-installed").textContent = app ? text.installed : text.inTab;
  document.getElementById("install-ios").hidden = app || !isIos();
  document.getElementById("install-other").hidden = app || isIos();
  const persisted = await kept();
  section.dataset.persisted = persisted ? "1" : "0";
  const storage = document.getElementById("phone-storage");
  if (!navigator.storage?.persist) storage.textContent = text.storageUnknown;
  else storage.textContent = persisted ? text.storageKept : text.storageMayClear;
  document.getElementById("keep-storage").hidden = persisted || !navigator.storage?.persist;
}

document.getElementById("keep-storage").addEventListener("click", async () => {
  const button = document.getElementById("keep-storage");
  button.disabled = true;
  try {
    const granted = await navigator.storage.persist();
    if (!granted) document.getElementById("phone-storage").textContent = text.storageRefused;
    else await show();
  } catch (error) {
    document.getElementById("phone-storage").textContent = text.storageRefused;
  } finally {
    button.disabled = false;
  }
});

show();
