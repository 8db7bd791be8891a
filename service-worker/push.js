/* Push reminders: show what the server sent, open the case on tap, renew a lost subscription.
   The payload holds only a title, a case number, a URL on this site and a tag. */

function reminderFrom(event) {
  try {
    return event.data ? event.data.json() : {};
  } catch (error) {
    return {};
  }
}

function sameSiteUrl(raw) {
  // Only ever open a page of this site, whatever a payload says.
  const url = new URL(raw || "/", self.location.origin);
  return url.origin === self.location.origin ? url.href : new URL("/", self.location.origin).href;
}

self.addEventListener("push", (event) => {
  const reminder = reminderFrom(event);
  // Always show something: browsers (and iOS above all) end subscriptions whose pushes do not.
  event.waitUntil(
    self.registration.showNotification(reminder.title || "Doorstep", {
      body: reminder.body || "",
      tag: reminder.tag || undefined, // a newer reminder for the same case and kind replaces it
      data: { url: sameSiteUrl(reminder.url) },
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-192.png",
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = sameSiteUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if ("navigate" in client) {
          await client.focus();
          return client.navigate(target); // not logged in: the login page, then the case
        }
      }
      return self.clients.openWindow(target);
    })(),
  );
});

self.addEventListener("pushsubscriptionchange", (event) => {
  // The browser replaced the subscription (expiry, key rotation): tell the server the new one.
  const renewed = event.newSubscription
    ? Promise.resolve(event.newSubscription)
    : self.registration.pushManager.subscribe(event.oldSubscription ? event.oldSubscription.options : { userVisibleOnly: true });
  event.waitUntil(
    renewed.then((subscription) =>
      fetch("/push/subscriptions", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", [CONTRACT.headers.push]: "1" },
        body: JSON.stringify(subscription.toJSON()),
      }),
    ),
  );
});
