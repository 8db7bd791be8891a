/* Background Sync: the service worker sends the outbox itself, so records go out even when
   no page is open (Chromium; Safari and Firefox have no Background Sync, and the pages send
   when they open or come back into view). Open pages are told to show the new state. */

const workerOutbox = outboxDatabase(CONTRACT.storage);

const postFromWorker = registerSender(CONTRACT);

async function sendFromWorker() {
  const me = await loggedInUser(CONTRACT.storage);
  if (me === null) return; // nobody logged in here: the records wait for their worker's login
  const outcome = await sendOutbox({
    locks: self.navigator.locks,
    store: workerOutbox,
    post: postFromWorker,
    me,
    contract: CONTRACT,
  });
  if (outcome.state === "login") await forgetSession(CONTRACT.storage);
  const windows = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const client of windows) client.postMessage({ type: "outbox-sent", state: outcome.state });
  // A rejection makes the browser try the sync again later, with its own backoff.
  if (outcome.state === "offline" || outcome.state === "failed" || outcome.state === "unreadable") {
    throw new Error(`outbox not sent: ${outcome.state}`);
  }
}
