/* The outbox's decisions, with no browser in them: how records are batched, what an answer
   from the register means for each record, whether a page may be kept on the phone, and the
   send loop itself with its storage and its network passed in. The pages import this module;
   the service worker gets the same source (the server drops the `export` words); node --test
   runs it on its own (tests/js/). `contract` is the outbox contract (fieldapp/domain/outbox.py). */

export function batchesOf(records, limits) {
  // Up to batch_records records or about batch_chars characters a request (a signature is
  // an image): few round trips on a slow line, each small enough to beat the timeout. A
  // record larger than batch_chars goes alone.
  const batches = [];
  let batch = [];
  let chars = 0;
  for (const record of records) {
    const size = JSON.stringify(record).length;
    if (batch.length && (batch.length >= limits.batch_records || chars + size > limits.batch_chars)) {
      batches.push(batch);
      batch = [];
      chars = 0;
    }
    batch.push(record);
    chars += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

export function wireRecord({ uuid, type, case_id, user, data, recorded_at }) {
  // What goes over the wire: never the phone's own bookkeeping (label, state, message).
  return { uuid, type, case_id, user, data, recorded_at };
}

export function settle(answer, batch, contract) {
  // What the register's answer means for each record of the batch: `remove` the settled
  // ones, `reject` (keep, with the register's message) the refused ones. Records the answer
  // does not mention stay as they are and go again next time. An answer that is not the
  // register's (a Wi-Fi login page, a proxy's error) throws.
  if (!answer || !Array.isArray(answer.results)) throw new TypeError("not an answer from the register");
  const byUuid = new Map(batch.map((record) => [record.uuid, record]));
  const remove = [];
  const reject = [];
  for (const result of answer.results) {
    const record = result && byUuid.get(result.uuid);
    if (!record) continue;
    if (contract.settled.includes(result.status)) remove.push(record.uuid);
    // "Made by another user": sent under a colleague's login (an old tab on a shared phone);
    // it stays waiting for its own worker, never marked refused.
    else if (result.status === "rejected" && result.field !== "user") reject.push({ record, message: String(result.message || "") });
  }
  return { remove, reject };
}

export function pending(records, me) {
  return records.filter((record) => record.user === me && record.state !== "rejected");
}

export function sendOutbox({ locks, ...rest }) {
  // One sender at a time per browser: the pages and the service worker take the same lock
  // (Web Locks, where the browser has them). The register answers a record sent twice at
  // once as a duplicate anyway; the lock saves the second trip.
  if (locks && typeof locks.request === "function") return locks.request("doorstep-outbox", () => sendWaiting(rest));
  return sendWaiting(rest);
}

async function sendWaiting({ store, post, me, contract }) {
  // Send this user's waiting records, one batch at a time, oldest first. Returns
  // { state, sent, rejected } where state is "sent" (all answered), "offline" (no answer),
  // "failed" (the server erred: try later), "unreadable" (an answer that is not the
  // register's), or "login" (the session has ended: keep everything, ask for a login).
  const waiting = pending(await store.all(), me);
  let sent = 0;
  const rejected = [];
  for (const batch of batchesOf(waiting, contract.limits)) {
    let response;
    try {
      response = await post(batch.map(wireRecord));
    } catch (error) {
      return { state: "offline", sent, rejected };
    }
    if (response.status === 401) return { state: "login", sent, rejected };
    if (!response.ok) return { state: "failed", sent, rejected };
    let outcome;
    try {
      outcome = settle(await response.json(), batch, contract);
    } catch (error) {
      return { state: "unreadable", sent, rejected };
    }
    for (const uuid of outcome.remove) await store.remove(uuid);
    for (const { record, message } of outcome.reject) {
      await store.put({ ...record, state: "rejected", message });
      rejected.push(message);
    }
    sent += outcome.remove.length;
  }
  return { state: "sent", sent, rejected };
}

export function isFieldPage(path, contract) {
  return contract.field_pages.some((pattern) => new RegExp(pattern).test(path));
}

export function pageDecision(answer, path, now, contract) {
  // What the service worker does with a page's answer from the network, given
  // answer = { ok, status, type, redirected, html, keepUntil (ms or NaN), loggedOut }:
  //   "forget-all"  nobody is logged in here any more: delete every kept page;
  //   "keep"        keep this copy until its time;
  //   "drop"        delete the kept copy (the answer says it is no longer the worker's);
  //   "use-kept"    the server erred: show the kept copy if there is one;
  //   "pass"        show the answer, keep nothing.
  if (answer.loggedOut) return "forget-all";
  const field = isFieldPage(path, contract);
  if (!field) return "pass";
  // A redirect (to the login, to another page): in a service worker a navigation's redirect
  // arrives as an "opaqueredirect" with status 0, which is neither ok nor an error status.
  if (answer.type === "opaqueredirect" || answer.redirected || (answer.status >= 300 && answer.status < 400)) return "drop";
  if ([401, 403, 404, 410].includes(answer.status)) return "drop";
  if (answer.status >= 500) return "use-kept";
  if (answer.ok && answer.html) {
    return Number.isFinite(answer.keepUntil) && answer.keepUntil > now ? "keep" : "drop";
  }
  return "pass";
}

export function hasExpired(keepUntil, now) {
  return !Number.isFinite(keepUntil) || keepUntil <= now;
}

export function retryDelay(failures) {
  // 5 s, 10 s, 20 s … up to 5 minutes.
  return Math.min(300000, 5000 * 2 ** Math.min(failures, 6));
}
