// The service worker: shows the Web Push notices the server sends to
// people who are away, and takes a click on one to its room.
//
// A notice is JSON: {room, seq, title, body, from, room_name, unread, total, url,
// replace?}. One notification per room (tag "room-<id>"): a newer notice
// replaces the older one. No notification while a visible tab already shows
// that room. A notice with `replace` (a message was deleted) only rewrites a
// notification already showing for the room, silently, so the deleted text
// does not stay on the lock screen; with none showing it shows nothing.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let notice = null;
  try {
    notice = event.data ? event.data.json() : null;
  } catch (_) {
    // Not ours (or damaged): nothing to show.
  }
  if (notice && Number.isInteger(notice.room)) event.waitUntil(show(notice));
});

async function show(notice) {
  if (self.navigator.setAppBadge && Number.isInteger(notice.total)) {
    self.navigator.setAppBadge(notice.total).catch(() => {});
  }
  const roomPath = `/r/${notice.room}`;
  const tag = `room-${notice.room}`;
  if (notice.replace) {
    const shown = await self.registration.getNotifications({ tag });
    if (shown.length === 0) return;
  }
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const visible = windows.filter((w) => w.visibilityState === "visible");
  const showing = await Promise.all(
    visible.map((w) => new URL(w.url).pathname === roomPath || asks(w, notice.room)),
  );
  if (showing.some(Boolean)) return;
  const unread = notice.unread > 1 ? `\n${notice.unread} unread messages` : "";
  await self.registration.showNotification(notice.title, {
    body: `${notice.body}${unread}`,
    tag,
    renotify: !notice.replace,
    silent: !!notice.replace,
    icon: "/favicon.svg",
    timestamp: Date.now(),
    data: { url: new URL(notice.url || roomPath, self.location.origin).href, room: notice.room },
  });
}

// A tab's url here is the one it loaded; the app moves between rooms
// without loading, so ask the tab itself. A busy tab (a slow phone, a page
// still hydrating) can take a while to answer; only one that says nothing
// for 3 s counts as not showing, so a notice is at worst 3 s late.
function asks(client, room) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), 3000);
    channel.port1.onmessage = (e) => {
      clearTimeout(timer);
      resolve(e.data === true);
    };
    client.postMessage({ showing: room }, [channel.port2]);
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openRoom(event.notification.data && event.notification.data.url));
});

// Focuses a tab already on the room, else another tab of the app (sent
// there), else opens a new one.
async function openRoom(url) {
  const target = url || self.location.origin + "/";
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((w) => w.url === target);
  if (same) return same.focus();
  const other = windows.find((w) => "navigate" in w);
  if (other) {
    const focused = await other.focus();
    return focused.navigate(target).catch(() => self.clients.openWindow(target));
  }
  return self.clients.openWindow(target);
}
