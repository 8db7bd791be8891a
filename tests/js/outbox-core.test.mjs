// The outbox's decisions on their own, in Node: batching, what an answer means, the send loop,
// and what the service worker keeps. Run by tests/unit/test_javascript.py, which writes the
// contract (fieldapp/domain/outbox.py) to the file named by DOORSTEP_CONTRACT.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  batchesOf,
  hasExpired,
  isFieldPage,
  pageDecision,
  pending,
  retryDelay,
  sendOutbox,
  settle,
  wireRecord,
} from "../../static/js/outbox-core.js";

const contract = JSON.parse(readFileSync(process.env.DOORSTEP_CONTRACT, "utf8"));
const limits = contract.limits;

function record(n, extra = {}) {
  return { uuid: `u${n}`, type: "visit", case_id: 7, user: 3, data: { channel: "door", result: "met" }, recorded_at: "2026-12-01T09:00:00Z", label: "Visit", state: "pending", created_at: `2026-12-01T09:00:${String(n).padStart(2, "0")}Z`, ...extra };
}

test("batches hold at most the contract's number of records, in order", () => {
  const records = Array.from({ length: limits.batch_records * 2 + 3 }, (_, i) => record(i));
  const batches = batchesOf(records, limits);
  assert.deepEqual(batches.map((b) => b.length), [limits.batch_records, limits.batch_records, 3]);
  assert.deepEqual(batches.flat().map((r) => r.uuid), records.map((r) => r.uuid));
});

test("a batch stops before the character limit; an oversized record goes alone", () => {
  const signature = "x".repeat(Math.floor(limits.batch_chars * 0.6));
  const big = "y".repeat(limits.batch_chars + 10);
  const records = [record(1, { data: { signature } }), record(2, { data: { signature } }), record(3, { data: { big } }), record(4)];
  const batches = batchesOf(records, limits);
  assert.deepEqual(batches.map((b) => b.map((r) => r.uuid)), [["u1"], ["u2"], ["u3"], ["u4"]]);
  for (const batch of batches.filter((b) => b.length > 1)) {
    assert.ok(JSON.stringify(batch).length <= limits.batch_chars);
  }
});

test("no batches for no records", () => {
  assert.deepEqual(batchesOf([], limits), []);
});

test("the wire record carries no bookkeeping of the phone", () => {
  assert.deepEqual(Object.keys(wireRecord(record(1))).sort(), ["case_id", "data", "recorded_at", "type", "user", "uuid"]);
});

test("settled answers are removed, rejections kept with the register's message, strangers ignored", () => {
  const batch = [record(1), record(2), record(3), record(4), record(5)];
  const answer = { results: [
    { uuid: "u1", status: "applied" }, { uuid: "u2", status: "duplicate" }, { uuid: "u3", status: "conflict" },
    { uuid: "u4", status: "rejected", message: "case_id: 7 not found" }, { uuid: "zz", status: "applied" },
  ] };
  const { remove, reject } = settle(answer, batch, contract);
  assert.deepEqual(remove, ["u1", "u2", "u3"]);
  assert.deepEqual(reject.map((r) => [r.record.uuid, r.message]), [["u4", "case_id: 7 not found"]]);
});

test("an answer that is not the register's throws (a captive portal's page parsed as JSON)", () => {
  assert.throws(() => settle({ hello: "wifi" }, [record(1)], contract), TypeError);
  assert.throws(() => settle(null, [record(1)], contract), TypeError);
});

test("only this user's waiting records are sent; rejected ones wait for a person", () => {
  const records = [record(1), record(2, { user: 4 }), record(3, { state: "rejected" })];
  assert.deepEqual(pending(records, 3).map((r) => r.uuid), ["u1"]);
});

function memoryStore(records) {
  const rows = new Map(records.map((r) => [r.uuid, r]));
  return { rows, all: async () => [...rows.values()], remove: async (uuid) => rows.delete(uuid), put: async (r) => rows.set(r.uuid, r) };
}

function answering(...responses) {
  const sent = [];
  const post = async (batch) => {
    sent.push(batch);
    const next = responses.shift();
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(batch) : next;
  };
  return { post, sent };
}

const json = (status, body) => ({ ok: status >= 200 && status < 300, status, json: async () => body });
const applyAll = (batch) => json(200, { results: batch.map((r) => ({ uuid: r.uuid, status: "applied", message: "", field: "" })) });

test("the send loop empties the outbox batch by batch", async () => {
  const store = memoryStore(Array.from({ length: limits.batch_records + 1 }, (_, i) => record(i)));
  const { post, sent } = answering(applyAll, applyAll);
  const outcome = await sendOutbox({ store, post, me: 3, contract });
  assert.deepEqual(outcome, { state: "sent", sent: limits.batch_records + 1, rejected: [] });
  assert.equal(store.rows.size, 0);
  assert.deepEqual(sent.map((b) => b.length), [limits.batch_records, 1]);
  assert.ok(!("label" in sent[0][0]));
});

test("no network, a 5xx, a login page and an unreadable 200 keep every record", async () => {
  const cases = [
    [new TypeError("Failed to fetch"), "offline"],
    [json(503, {}), "failed"],
    [json(401, { error: "login_required" }), "login"],
    [{ ok: true, status: 200, json: async () => { throw new SyntaxError("Unexpected token <"); } }, "unreadable"],
    [json(200, { results: "nope" }), "unreadable"],
  ];
  for (const [response, state] of cases) {
    const store = memoryStore([record(1), record(2)]);
    const outcome = await sendOutbox({ store, post: answering(response).post, me: 3, contract });
    assert.equal(outcome.state, state);
    assert.equal(store.rows.size, 2, `${state}: nothing may be dropped`);
  }
});

test("a rejection is kept on the phone with its message; the rest is removed", async () => {
  const store = memoryStore([record(1), record(2)]);
  const post = async (batch) => json(200, { results: [
    { uuid: batch[0].uuid, status: "rejected", message: "result: 'x' is not one of", field: "result" },
    { uuid: batch[1].uuid, status: "applied", message: "", field: "" },
  ] });
  const outcome = await sendOutbox({ store, post, me: 3, contract });
  assert.equal(outcome.state, "sent");
  assert.deepEqual([...store.rows.keys()], ["u1"]);
  assert.equal(store.rows.get("u1").state, "rejected");
  assert.deepEqual(outcome.rejected, ["result: 'x' is not one of"]);
});

test("with Web Locks one sender runs at a time", async () => {
  const order = [];
  let held = Promise.resolve();
  const locks = { request: (name, task) => { const run = held.then(task); held = run.catch(() => {}); order.push(name); return run; } };
  const store = memoryStore([record(1)]);
  const { post, sent } = answering(applyAll, applyAll);
  await Promise.all([sendOutbox({ locks, store, post, me: 3, contract }), sendOutbox({ locks, store, post, me: 3, contract })]);
  assert.deepEqual(order, ["doorstep-outbox", "doorstep-outbox"]);
  assert.equal(sent.length, 1, "the second sender found nothing left to send");
});

const NOW = Date.parse("2026-12-01T10:00:00Z");
const answer = (extra) => ({ ok: true, status: 200, type: "basic", redirected: false, html: true, keepUntil: NOW + 3600000, loggedOut: false, ...extra });

test("only Today and case cards are field pages", () => {
  assert.ok(isFieldPage("/today", contract));
  assert.ok(isFieldPage("/field/cases/12", contract));
  for (const path of ["/today/x", "/field/cases/12/history", "/cases", "/team", "/login"]) assert.ok(!isFieldPage(path, contract), path);
});

test("a field page is kept only until its time", () => {
  assert.equal(pageDecision(answer(), "/field/cases/1", NOW, contract), "keep");
  assert.equal(pageDecision(answer({ keepUntil: NOW - 1 }), "/field/cases/1", NOW, contract), "drop");
  assert.equal(pageDecision(answer({ keepUntil: Number.NaN }), "/field/cases/1", NOW, contract), "drop");
  assert.equal(pageDecision(answer(), "/cases", NOW, contract), "pass");
});

test("a redirect of any kind deletes the kept page (an opaqueredirect has status 0)", () => {
  const opaque = answer({ ok: false, status: 0, type: "opaqueredirect", html: false, keepUntil: Number.NaN });
  assert.equal(pageDecision(opaque, "/field/cases/1", NOW, contract), "drop");
  assert.equal(pageDecision(answer({ redirected: true }), "/today", NOW, contract), "drop");
  assert.equal(pageDecision(answer({ ok: false, status: 302, html: false }), "/today", NOW, contract), "drop");
});

test("refused and gone delete, a server error shows the kept copy", () => {
  for (const status of [401, 403, 404, 410]) assert.equal(pageDecision(answer({ ok: false, status }), "/field/cases/1", NOW, contract), "drop");
  assert.equal(pageDecision(answer({ ok: false, status: 502 }), "/field/cases/1", NOW, contract), "use-kept");
});

test("a page that says nobody is logged in forgets every kept page, wherever it is", () => {
  assert.equal(pageDecision(answer({ loggedOut: true }), "/login", NOW, contract), "forget-all");
  assert.equal(pageDecision(answer({ loggedOut: true, status: 401, ok: false }), "/field/cases/1", NOW, contract), "forget-all");
});

test("expiry and backoff", () => {
  assert.ok(hasExpired(NOW, NOW) && hasExpired(Number.NaN, NOW) && !hasExpired(NOW + 1, NOW));
  assert.deepEqual([0, 1, 2, 6, 20].map(retryDelay), [5000, 10000, 20000, 300000, 300000]);
});

test("a record refused as another user's stays waiting for its own worker", () => {
  const batch = [record(1)];
  const answer = { results: [{ uuid: "u1", status: "rejected", message: "this record was made by another user; they must send it", field: "user" }] };
  assert.deepEqual(settle(answer, batch, contract), { remove: [], reject: [] });
});
