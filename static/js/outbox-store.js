/* Where the phone keeps things: the outbox in IndexedDB, who is logged in (a user id, in the
   Cache Storage the service worker reads too) and the kept pages. Used by the pages and, with
   the `export` words dropped by the server, by the service worker. */

export function outboxDatabase(storage) {
  // One connection at a time, opened when needed. iOS closes IndexedDB connections under
  // memory pressure and browsers close them for an upgrade: a closed connection is forgotten
  // and the operation tried once more on a fresh one.
  let connection = null;

  function open() {
    if (connection) return connection;
    connection = new Promise((resolve, reject) => {
      const request = indexedDB.open(storage.database, 1);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains(storage.outbox_store)) {
          db.createObjectStore(storage.outbox_store, { keyPath: "uuid" }).createIndex("created_at", "created_at");
        }
      };
      request.onsuccess = () => {
        const db = request.result;
        const forget = () => {
          connection = null;
        };
        db.onclose = forget;
        db.onversionchange = () => {
          forget();
          db.close();
        };
        resolve(db);
      };
      request.onerror = () => {
        connection = null;
        reject(request.error);
      };
      request.onblocked = () => {
        connection = null;
        reject(new DOMException("the phone's storage is busy", "InvalidStateError"));
      };
    });
    return connection;
  }

  async function run(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(storage.outbox_store, mode);
      const request = work(tx.objectStore(storage.outbox_store));
      tx.oncomplete = () => resolve(request && request.result !== undefined ? request.result : undefined);
      // A request's error reaches the transaction before it aborts, when tx.error is null.
      tx.onerror = (event) => reject(event.target.error || tx.error);
      tx.onabort = () => reject(tx.error || new DOMException("aborted", "AbortError"));
    });
  }

  async function withRetry(mode, work) {
    try {
      return await run(mode, work);
    } catch (error) {
      if (!error || !["InvalidStateError", "UnknownError", "TransactionInactiveError"].includes(error.name)) throw error;
      connection = null; // closed under us: once more on a new connection
      return run(mode, work);
    }
  }

  return {
    put: (record) => withRetry("readwrite", (store) => store.put(record)),
    putAll: (records) =>
      withRetry("readwrite", (store) => {
        for (const record of records) store.put(record);
      }),
    remove: (uuid) => withRetry("readwrite", (store) => store.delete(uuid)),
    all: () => withRetry("readonly", (store) => store.index("created_at").getAll()),
    clear: () => withRetry("readwrite", (store) => store.clear()),
  };
}

export function registerSender(contract) {
  // POST a batch to the register, given up after the contract's timeout (a line that takes
  // the request and never answers must not hold the outbox).
  return async function post(records) {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), contract.limits.request_timeout_ms);
    try {
      return await fetch("/sync", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", [contract.headers.sync]: "1", Accept: "application/json" },
        body: JSON.stringify({ records }),
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timeout);
    }
  };
}

const SESSION_KEY = "/__doorstep/session";

export async function rememberUser(storage, userId) {
  // Who is logged in (the user id only), so the service worker can send that user's records
  // when no page is open.
  const cache = await caches.open(storage.session_cache);
  await cache.put(SESSION_KEY, new Response(JSON.stringify({ user: userId }), { headers: { "Content-Type": "application/json" } }));
}

export async function loggedInUser(storage) {
  const cache = await caches.open(storage.session_cache);
  const kept = await cache.match(SESSION_KEY);
  if (!kept) return null;
  try {
    const { user } = await kept.json();
    return Number.isInteger(user) ? user : null;
  } catch (error) {
    return null;
  }
}

export async function forgetSession(storage) {
  // Logout or a session the server has ended: the kept pages (names, addresses, phones) and
  // who was logged in go; the outbox is handled by the caller (sent first or confirmed lost).
  await Promise.all([caches.delete(storage.pages_cache), caches.delete(storage.session_cache)]);
}
