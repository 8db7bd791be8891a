/* Background Sync: wake the open pages so they send the outbox (the page owns the outbox). */

async function askPagesToSync() {
  const clientsList = await self.clients.matchAll({ includeUncontrolled: true, type: "window" });
  for (const client of clientsList) client.postMessage({ type: "sync-outbox" });
}
