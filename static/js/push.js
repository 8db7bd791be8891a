/* Reminders page: ask for notification permission only when the person presses the button,
   subscribe with the server's VAPID key, and tell the server (POST / DELETE /push/subscriptions). */

import { CONTRACT } from "/outbox-contract.js";

const section = document.getElementById("this-device");
const state = document.getElementById("push-state");
const onButton = document.getElementById("push-on");
const offButton = document.getElementById("push-off");
const text = section.dataset;

function say(message) {
  state.textContent = message;
}

function keyBytes(base64url) {
  const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function tellServer(method, body) {
  const response = await fetch("/push/subscriptions", {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", [CONTRACT.headers.push]: "1" },
    body: JSON.stringify(body),
  });
  if (response.status === 401) window.location.assign("/login?next=/settings/reminders");
  return response;
}

function isIosOutsideHomeScreen() {
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
  return ios && !window.navigator.standalone;
}

async function show() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say(isIosOutsideHomeScreen() ? text.ios : text.unsupported);
    return;
  }
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  const on = subscription !== null && Notification.permission === "granted";
  say(on ? text.on : Notification.permission === "denied" ? text.denied : text.off);
  onButton.hidden = on || Notification.permission === "denied";
  offButton.hidden = !on;
}

onButton.addEventListener("click", async () => {
  onButton.disabled = true;
  try {
    // The permission prompt comes only now, because the person asked for it.
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say(text.denied);
      return;
    }
    const registration = await navigator.serviceWorker.ready;
    const subscription =
      (await registration.pushManager.getSubscription()) ||
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(text.key) }));
    const response = await tellServer("POST", subscription.toJSON());
    if (!response.ok) throw new Error(`status ${response.status}`);
    window.location.reload(); // the device list comes from the server
  } catch (error) {
    say(text.failed);
  } finally {
    onButton.disabled = false;
  }
});

offButton.addEventListener("click", async () => {
  offButton.disabled = true;
  try {
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      await tellServer("DELETE", { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    window.location.reload();
  } catch (error) {
    say(text.failed);
  } finally {
    offButton.disabled = false;
  }
});

show().catch(() => say(text.unsupported));
