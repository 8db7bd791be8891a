/* The field outbox: records made on the phone are kept in IndexedDB until the register has
   them. Each record has its own UUID, so sending it twice is harmless. Sent one batch at a
   time, on page start, when the connection returns, on a timer with backoff, from the
   "Sync now" button and when the service worker's Background Sync wakes the page. */

const DB_NAME = "doorstep";
const STORE = "outbox";
// Up to 25 records or about 200 kB a request (a signature is an image): few round trips on a
// slow line, and a request small enough to get through before the timeout.
const BATCH = 25;
const BATCH_CHARS = 200000;
const REQUEST_TIMEOUT_MS = 15000;
const bar = document.getElementById("outbox-bar");
let sending = false;
let failures = 0;
let timer = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "uuid" });
      store.createIndex("created_at", "created_at");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result.result !== undefined ? result.result : result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const outbox = {
  put: (record) => withStore("readwrite", (store) => store.put(record)),
  remove: (uuid) => withStore("readwrite", (store) => store.delete(uuid)),
  all: () => withStore("readonly", (store) => store.index("created_at").getAll()),
  clear: () => withStore("readwrite", (store) => store.clear()),
};

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
}

function scheduleRetry() {
  clearTimeout(timer);
  const delay = Math.min(300000, 5000 * 2 ** Math.min(failures, 6));
  timer = setTimeout(() => flush(), delay);
}

async function postBatch(records) {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    return await fetch("/sync", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Doorstep-Sync": "1", Accept: "application/json" },
      body: JSON.stringify({ records: records.map(({ uuid, type, case_id, user, data, recorded_at }) => ({ uuid, type, case_id, user, data, recorded_at })) }),
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timeout);
  }
}

export async function flush() {
  if (sending || !bar) return;
  sending = true;
  try {
    const me = Number(bar.dataset.user);
    const pending = (await outbox.all()).filter((r) => r.state !== "rejected" && r.user === me);
    for (let start = 0; start < pending.length; ) {
      const batch = [];
      let chars = 0;
      while (start < pending.length && batch.length < BATCH) {
        const size = JSON.stringify(pending[start]).length;
        if (batch.length && chars + size > BATCH_CHARS) break;
        batch.push(pending[start]);
        chars += size;
        start += 1;
      }
      let response;
      try {
        response = await postBatch(batch);
      } catch (error) {
        failures += 1;
        say(navigator.onLine ? text("failed") : text("offline"), !navigator.onLine ? false : true);
        scheduleRetry();
        return;
      }
      if (response.status === 401) {
        // The session ended: keep everything and ask for a login, never retry blindly. The
        // cached pages are this session's: drop them so nobody reads them without logging in.
        say(text("login"), true);
        bar.classList.add("needs-login");
        await caches.delete("doorstep-pages").catch(() => {});
        return;
      }
      if (!response.ok) {
        failures += 1;
        say(text("failed"), true);
        scheduleRetry();
        return;
      }
      const { results } = await response.json();
      for (const result of results) {
        if (["applied", "duplicate", "conflict"].includes(result.status)) {
          await outbox.remove(result.uuid);
        } else if (result.status === "rejected") {
          const record = batch.find((r) => r.uuid === result.uuid);
          if (record) await outbox.put({ ...record, state: "rejected", message: result.message });
          say(`${text("rejected")} ${result.message}`, true);
        }
      }
    }
    failures = 0;
    bar.classList.remove("needs-login");
  } finally {
    sending = false;
    await refreshStatus();
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

const NUMBER_FIELDS = new Set(["text_id", "partner_id", "base_version", "children", "adults", "action_id"]);

function recordsFromForm(form) {
  const type = form.dataset.outbox;
  const caseId = Number(form.dataset.case);
  const values = new FormData(form);
  const data = {};
  for (const [name, value] of values.entries()) {
    if (name === "scopes") continue;
    data[name] = NUMBER_FIELDS.has(name) && value !== "" ? Number(value) : value;
  }
  const label = form.closest("section")?.querySelector("h2")?.textContent || type;
  // Each record belongs to the worker who made it: on a shared phone it is sent only when
  // that worker is logged in again, never under a colleague's name.
  const user = Number(bar?.dataset.user);
  const base = { type, case_id: caseId, user, created_at: new Date().toISOString(), state: "pending", label };
  if (type === "need") {
    const needs = values.getAll("need");
    return needs.map((need) => ({ ...base, uuid: uuid4(), recorded_at: base.created_at, data: { need, note: data.note || "" }, label: `${label}: ${need}` }));
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
    return [{ ...base, uuid: uuid4(), recorded_at: base.created_at, data: { base_version, changes } }];
  }
  return [{ ...base, uuid: uuid4(), recorded_at: base.created_at, data }];
}

async function saveForm(form, button) {
  const records = recordsFromForm(form);
  if (form.dataset.outbox === "need" && records.length === 0) {
    say(text("pickNeed"), true);
    return;
  }
  if (records.length === 0) return; // nothing changed
  if (form.dataset.outbox === "consent" && records[0].data.method === "signature" && records[0].data.state !== "withdrawn") {
    if (!records[0].data.signature) {
      say(text("signFirst"), true);
      return;
    }
  }
  for (const record of records) await outbox.put(record);
  form.reset();
  form.dispatchEvent(new CustomEvent("outbox:saved", { bubbles: true }));
  say(text("saved"));
  await refreshStatus();
  if ("serviceWorker" in navigator && "SyncManager" in window) {
    const registration = await navigator.serviceWorker.ready.catch(() => null);
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
    await saveForm(form, button);
  } finally {
    delete form.dataset.saving;
    if (button) button.disabled = false;
  }
});

document.addEventListener("submit", async (event) => {
  // Logging out wipes the phone's data: send the outbox first, and never drop it silently.
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("logout") || !bar) return;
  if (form.dataset.confirmed === "1") return;
  event.preventDefault();
  await flush();
  const me = Number(bar.dataset.user);
  const mine = (await outbox.all()).filter((r) => r.user === me);
  if (mine.length > 0 && !window.confirm(text("confirmLogout", mine.length))) return;
  for (const record of mine) await outbox.remove(record.uuid);
  form.dataset.confirmed = "1";
  form.requestSubmit();
});

if (bar) {
  document.getElementById("sync-now")?.addEventListener("click", () => flush());
  window.addEventListener("online", () => flush());
  window.addEventListener("offline", () => say(text("offline")));
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "sync-outbox") flush();
  });
  refreshStatus().then(() => flush());
  setInterval(() => {
    if (Number(bar.dataset.count || 0) > 0 && failures === 0) flush();
  }, 30000);
}
