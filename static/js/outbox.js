/* The field outbox: records made on the phone are kept in IndexedDB until the register has
   them. Each record has its own UUID, so sending it twice is harmless. Sent one batch at a
   time: when a page opens or comes back into view, when the connection returns, on a timer
   with backoff, from the "Sync now" button, and by the service worker itself (Background
   Sync, where the browser has it) when no page is open. The decisions are in outbox-core.js,
   the storage in outbox-store.js, the names and limits in the contract. */

import { CONTRACT } from "/outbox-contract.js";
import { retryDelay, sendOutbox } from "/static/js/outbox-core.js";
import { forgetSession, outboxDatabase, registerSender, rememberUser } from "/static/js/outbox-store.js";

const bar = document.getElementById("outbox-bar");
let sending = null; // the send running now, if any: a second caller waits for it
let failures = 0;
let timer = null;

export const outbox = outboxDatabase(CONTRACT.storage);

function text(name, n) {
  const template = bar?.dataset[name] || "";
  return template.replace("{n}", String(n));
}

function say(message, isError = false) {
  const target = document.getElementById("outbox-message");
  if (!target) return;
  target.textContent = message;
  target.classList.toggle("error", isError);
}

async function storageKept() {
  try {
    return Boolean(await navigator.storage?.persisted?.());
  } catch (error) {
    return false;
  }
}

function askToKeepStorage() {
  // Ask once records are kept on the phone: browsers grant it quietly to installed apps and to
  // sites in use, and some ask the worker. Never waited on: a prompt must not hold a save up.
  if (!navigator.storage?.persist) return;
  storageKept().then((kept) => kept || navigator.storage.persist().catch(() => false));
}

function installed() {
  return window.matchMedia?.("(display-mode: standalone)").matches || navigator.standalone === true;
}

export async function refreshStatus() {
  if (!bar) return [];
  const me = Number(bar.dataset.user);
  const records = (await outbox.all()).filter((r) => r.user === me);
  const waiting = records.filter((r) => r.state !== "rejected");
  const count = document.getElementById("outbox-count");
  bar.dataset.count = String(waiting.length);
  count.textContent =
    waiting.length === 0 ? text("allSent") : waiting.length === 1 ? text("waitingOne") : text("waitingMany", waiting.length);
  bar.classList.toggle("has-waiting", waiting.length > 0);
  // Records waiting in a browser tab (not the installed app) whose storage the browser may
  // clear: Safari deletes a site's data after 7 days without use, except for home-screen apps.
  // On the case card it stands in the step that lists what waits, not in the bar, whose
  // height must not change under the worker's thumb.
  const tabWarning = document.getElementById("door-tab-warning") || document.getElementById("outbox-tab-warning");
  if (tabWarning) {
    const persisted = await storageKept();
    tabWarning.hidden = waiting.length === 0 || installed() || persisted;
  }
  renderCaseWaiting(records);
  return records;
}

function renderCaseWaiting(records) {
  // On a case card, list what is still on the phone for this case.
  const box = document.getElementById("case-waiting");
  if (!box) return;
  const mine = records.filter((r) => String(r.case_id) === box.dataset.case);
  const list = document.getElementById("case-waiting-list");
  list.replaceChildren(
    ...mine.map((r) => {
      const item = document.createElement("li");
      item.dataset.type = r.type;
      item.textContent = `${r.label}${r.state === "rejected" ? ` — ${r.message}` : ""}`;
      if (r.state === "rejected") item.classList.add("error");
      return item;
    }),
  );
  box.hidden = mine.length === 0;
  // A refusal is said on the summary's own line too, which shows while the step is closed.
  const refused = document.getElementById("door-refused");
  if (refused) {
    refused.textContent = mine.filter((r) => r.state === "rejected").map((r) => `${r.label} — ${r.message}`).join(" · ");
  }
  const allSent = document.getElementById("all-sent-here");
  if (allSent) allSent.hidden = mine.length > 0;
}

function scheduleRetry() {
  clearTimeout(timer);
  timer = setTimeout(() => flush(), retryDelay(failures));
}

const post = registerSender(CONTRACT);

let again = false; // asked to send while a send was running: send once more after it

export function flush() {
  if (!bar) return Promise.resolve();
  if (sending) {
    // "Sync now" tapped while the last try is still finishing must not be swallowed.
    again = true;
    return sending;
  }
  sending = sendNow().finally(() => {
    sending = null;
    if (again) {
      again = false;
      flush();
    }
  });
  return sending;
}

async function sendNow() {
  try {
    const me = Number(bar.dataset.user);
    const outcome = await sendOutbox({ locks: navigator.locks, store: outbox, post, me, contract: CONTRACT });
    if (outcome.state === "login") {
      // The session ended: keep everything and ask for a login, never retry blindly. The
      // kept pages are this session's: drop them so nobody reads them without logging in.
      say(text("login"), true);
      bar.classList.add("needs-login");
      await forgetSession(CONTRACT.storage).catch(() => {});
      return;
    }
    if (outcome.state !== "sent") {
      failures += 1;
      const offline = outcome.state === "offline" && !navigator.onLine;
      say(offline ? text("offline") : outcome.state === "unreadable" ? text("unreadable") : text("failed"), !offline);
      scheduleRetry();
      return;
    }
    failures = 0;
    bar.classList.remove("needs-login");
    if (outcome.rejected.length) say(`${text("rejected")} ${outcome.rejected.at(-1)}`, true);
    else if (outcome.sent) say(text("sentNow"));
    else say("");
  } catch (error) {
    // The phone's own storage failed (closed, full): say so; the records stay where they are.
    failures += 1;
    say(`${text("storageFailed")} (${error?.name || error})`, true);
    scheduleRetry();
  } finally {
    await refreshStatus().catch(() => {});
  }
}

function uuid4() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const NUMBER_FIELDS = new Set(CONTRACT.number_fields);

function labelOf(input) {
  // The words the worker tapped: the text of the input's label, never the stored code.
  const label = input.closest("label") || (input.id && document.querySelector(`label[for="${input.id}"]`));
  return (label?.textContent || input.value).trim();
}

function describe(form, data) {
  // "Visit: Met the tenant, At the door", "Consent: Given, Debt counselling, Landlord"…: what
  // the outbox lists and the step says it saved, in the worker's words.
  if (form.dataset.summary) return form.dataset.summary;
  const parts = [];
  for (const name of (form.dataset.describe || "").split(" ").filter(Boolean)) {
    const field = form.elements[name];
    if (!field) continue;
    const inputs = field instanceof RadioNodeList ? [...field] : [field];
    for (const input of inputs) {
      if (input instanceof HTMLSelectElement) {
        if (input.value) parts.push(input.selectedOptions[0].textContent.trim());
      } else if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) parts.push(labelOf(input));
      } else if (data[name]) parts.push(String(data[name]));
    }
  }
  return parts.join(", ");
}

function recordsFromForm(form) {
  const type = form.dataset.outbox;
  const caseId = Number(form.dataset.case);
  const values = new FormData(form);
  const data = {};
  for (const [name, value] of values.entries()) {
    if (name === "scopes") continue;
    data[name] = NUMBER_FIELDS.has(name) && value !== "" ? Number(value) : value;
  }
  const title = form.dataset.title || form.closest("section")?.querySelector("h2")?.textContent || type;
  const what = describe(form, data);
  const label = what ? `${title}: ${what}` : title;
  // Each record belongs to the worker who made it: on a shared phone it is sent only when
  // that worker is logged in again, never under a colleague's name.
  const user = Number(bar?.dataset.user);
  const base = { type, case_id: caseId, user, created_at: new Date().toISOString(), state: "pending", label };
  if (type === "need") {
    // Each need has its own note (note_<need>); a form with one note for all still works.
    return [...form.querySelectorAll("input[name=need]:checked")].map((box) => ({
      ...base,
      uuid: uuid4(),
      recorded_at: base.created_at,
      data: { need: box.value, note: data[`note_${box.value}`] || data.note || "" },
      label: `${title}: ${labelOf(box)}`,
    }));
  }
  if (type === "consent") {
    data.scopes = values.getAll("scopes");
    if (data.partner_id === "") delete data.partner_id;
  }
  if (type === "action" && data.partner_id === "") data.partner_id = null;
  if (type === "case_edit") {
    // Send only what the worker changed, so an edit never writes back a stale value.
    const { base_version, ...fields } = data;
    const changes = {};
    for (const [name, value] of Object.entries(fields)) {
      const input = form.elements[name];
      if (input && input.value !== input.defaultValue) changes[name] = value;
    }
    if (Object.keys(changes).length === 0) return [];
    const changed = Object.keys(changes).map((name) => labelOf(form.elements[name]));
    return [{ ...base, uuid: uuid4(), recorded_at: base.created_at, data: { base_version, changes }, label: `${title}: ${changed.join(", ")}` }];
  }
  return [{ ...base, uuid: uuid4(), recorded_at: base.created_at, data }];
}

function inView(element) {
  const box = element.getBoundingClientRect();
  return box.top >= -1 && box.bottom <= window.innerHeight + 1; // a scroll lands on fractions
}

function formMessage(form, message, isError, field = null) {
  // The confirmation or the error goes next to what caused it, where the worker is looking,
  // and is read out by screen readers: an error beside the field it is about (or just above
  // the button tapped); a confirmation where the step folds (see card.js) or under the button.
  let target = field;
  if (!target && !isError && !form.hasAttribute("data-in-place")) {
    target = form.closest("[data-step]")?.querySelector(".step-done .form-message");
  }
  // A saved form says so where the step folds: an earlier error of the same form goes.
  const own = form.querySelector(":scope > .form-message");
  if (own && target && own !== target) own.hidden = true;
  if (!target) {
    target = form.querySelector(":scope > .form-message");
    if (!target) {
      target = document.createElement("p");
      target.className = "form-message";
      const button = form.querySelector("[type=submit]");
      if (button && button.parentElement === form) button.before(target);
      else form.append(target);
    }
  }
  for (const other of form.querySelectorAll(".field-message")) {
    if (other !== target) other.hidden = true;
  }
  target.setAttribute("role", isError ? "alert" : "status");
  target.textContent = message;
  target.classList.toggle("error", isError);
  target.hidden = false;
  if (!inView(target)) target.scrollIntoView({ block: "nearest" });
}

async function saveForm(form) {
  const records = recordsFromForm(form);
  if (form.dataset.outbox === "need" && records.length === 0) {
    formMessage(form, text("pickNeed"), true, form.querySelector("#needs-message"));
    return;
  }
  if (records.length === 0) return; // nothing changed
  if (form.dataset.outbox === "consent" && records[0].data.state === "given") {
    // What the register would refuse, said now, beside the field, while the tenant is here:
    // a refusal after the worker has left means asking for the consent again.
    const { scopes, method, signature, witness } = records[0].data;
    const problem = !scopes.length
      ? ["pickPartner", "#scopes-message"]
      : method === "signature" && !signature
        ? ["signFirst", "#signature-message"]
        : method === "verbal_witness" && !(witness || "").trim()
          ? ["nameWitness", "#witness-message"]
          : null;
    if (problem) {
      const [name, where] = problem;
      formMessage(form, form.dataset[name] || text(name), true, form.querySelector(where));
      return;
    }
  }
  try {
    // All of a form's records in one transaction: kept together or not at all.
    await outbox.putAll(records);
  } catch (error) {
    // Not kept (storage full, a private window, the connection to it closed twice): the form
    // keeps what was typed, and the worker is told.
    formMessage(form, `${text("storageFailed")} (${error?.name || error})`, true);
    return;
  }
  form.reset();
  for (const message of form.querySelectorAll(".field-message")) message.hidden = true;
  form.dispatchEvent(new CustomEvent("outbox:saved", { bubbles: true, detail: { records } }));
  formMessage(form, text("saved"), false);
  await refreshStatus().catch(() => {});
  askToKeepStorage();
  if ("serviceWorker" in navigator && "SyncManager" in window) {
    const noWorker = new Promise((resolve) => setTimeout(() => resolve(null), 2000));
    const registration = await Promise.race([navigator.serviceWorker.ready, noWorker]).catch(() => null);
    await registration?.sync?.register("outbox").catch(() => {});
  }
  flush();
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.outbox) return;
  event.preventDefault();
  const button = event.submitter || form.querySelector("[type=submit]");
  // A double tap must not make two records: the button stays disabled until saved.
  if (form.dataset.saving === "1") return;
  form.dataset.saving = "1";
  if (button) button.disabled = true;
  try {
    await saveForm(form);
  } finally {
    delete form.dataset.saving;
    if (button) button.disabled = false;
  }
});

document.addEventListener("submit", async (event) => {
  // Logging out wipes the phone: send the outbox first, never drop it silently, then delete
  // the kept pages and the session marker here, whatever the browser does with the server's
  // Clear-Site-Data (Safari before 17 has none; older WebKit ignores it). The logout itself
  // goes by fetch, so that a phone without signal is told it is still logged in.
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("logout") || !bar) return;
  event.preventDefault();
  if (form.dataset.busy === "1") return;
  form.dataset.busy = "1";
  try {
    await flush();
    const me = Number(bar.dataset.user);
    let mine;
    try {
      mine = (await outbox.all()).filter((r) => r.user === me);
    } catch (error) {
      say(text("storageUnreadable"), true);
      return;
    }
    if (mine.length > 0 && !window.confirm(text("confirmLogout", mine.length))) return;
    let answer = null;
    try {
      answer = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { [CONTRACT.headers.logout]: "1", Accept: "application/json" },
      });
    } catch (error) {
      answer = null;
    }
    await forgetSession(CONTRACT.storage).catch(() => {});
    navigator.serviceWorker?.controller?.postMessage({ type: "forget-session" });
    const next = answer && answer.ok ? await answer.json().then((body) => body.next, () => null) : null;
    if (!next) {
      // No answer, or not the server's: still logged in there. Say so; nothing is dropped.
      say(text("logoutOffline"), true);
      return;
    }
    // Logged out on the server: this worker's records go (confirmed above); other workers'
    // records on a shared phone wait for their own login.
    for (const record of mine) await outbox.remove(record.uuid).catch(() => {});
    // Our login page, or the identity provider's logout (which comes back to it).
    window.location.assign(new URL(next, window.location.origin).href);
  } finally {
    delete form.dataset.busy;
  }
});

function sendSoon() {
  flush();
}

if (bar) {
  rememberUser(CONTRACT.storage, Number(bar.dataset.user)).catch(() => {});
  document.getElementById("sync-now")?.addEventListener("click", () => flush());
  window.addEventListener("online", sendSoon);
  window.addEventListener("offline", () => say(text("offline")));
  // iOS has no Background Sync and suspends pages: send whenever the app comes back.
  window.addEventListener("pageshow", sendSoon);
  window.addEventListener("focus", sendSoon);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sendSoon();
  });
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "sync-outbox") sendSoon();
    if (event.data?.type === "outbox-sent") {
      if (event.data.state === "sent") {
        failures = 0;
        say("");
      }
      refreshStatus().catch(() => {});
    }
  });
  refreshStatus()
    .then((records) => {
      if (records.length) askToKeepStorage();
    })
    .catch(() => {})
    .then(() => flush());
  setInterval(() => {
    if (Number(bar.dataset.count || 0) > 0 && failures === 0) flush();
  }, 30000);
} else if (document.body.dataset.loggedOut === "1") {
  // The login page: nobody is logged in in this browser, so nothing of a session stays.
  forgetSession(CONTRACT.storage).catch(() => {});
}
