// The service worker: keeps the app shell so the app opens without a
// network, and shows the Web Push notices the server sends to people who
// are away (a click on one opens its room).
//
// The server puts this build's VERSION and BUNDLE (the hashed .js, .wasm
// and .css) in front of this file (server/worker.rs), so a new build is a
// new worker. It keeps, in a cache of its own version, the shell document
// (`/shell`: the page without content, which the app renders itself), the
// bundle, the manifest and the icons; the shell must name this bundle, so
// the document and its files always come from the same build. Pages are
// asked of the network first; when it fails, or says nothing for
// NAVIGATION_WAIT_MS, the shell answers. A worker of a new build waits
// until the page says to take over (the person chose "Reload"), then drops
// the older caches. Nothing personal is kept here: what a person saw is in
// their IndexedDB database (ui/saved.rs), which logging out erases.
//
// A notice is JSON: {room, seq, title, body, from, room_name, unread, total, url,
// replace?}. One notification per room (tag "room-<id>"): a newer notice
// replaces the older one. No notification while a visible tab already shows
// that room. A notice with `replace` (a message was deleted) only rewrites a
// notification already showing for the room, silently, so the deleted text
// does not stay on the lock screen; with none showing it shows nothing.

const CACHE = `chat-shell-${VERSION}`;
const SHELL = [
  "/shell",
  ...BUNDLE,
  "/manifest.webmanifest",
  "/favicon.svg",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/apple-touch-icon.png",
];
// The app's own pages (anything else, such as a file opened in a tab, is the network's).
const PAGES = /^\/(login|settings|r\/\d+)?$/;
const NAVIGATION_WAIT_MS = 4000;

self.addEventListener("install", (event) => event.waitUntil(install()));

async function install() {
  if (VERSION) {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    const shell = await (await cache.match("/shell")).text();
    // A deployment between fetching this script and the shell: try again later.
    if (!BUNDLE.every((file) => shell.includes(file.split("/").pop().split(".")[1]))) {
      await caches.delete(CACHE);
      throw new Error("the shell names another build");
    }
  }
  // The first worker takes over at once; a newer one waits for the page's word.
  if (!self.registration.active) await self.skipWaiting();
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "take-over") self.skipWaiting();
});

self.addEventListener("activate", (event) => event.waitUntil(activate()));

async function activate() {
  const old = (await caches.keys()).filter((k) => k.startsWith("chat-shell-") && k !== CACHE);
  await Promise.all(old.map((k) => caches.delete(k)));
  await self.clients.claim();
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (!VERSION || req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && PAGES.test(url.pathname)) {
    event.respondWith(page(req));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(kept(req));
  }
});

/// The network's page, or the shell when the network fails or is too slow.
async function page(req) {
  const network = fetch(req);
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), NAVIGATION_WAIT_MS);
  });
  try {
    const res = await Promise.race([network, late]);
    if (res) return res;
  } catch (_) {
    // Offline: the shell.
  } finally {
    clearTimeout(timer);
  }
  const shell = await caches.match("/shell", { cacheName: CACHE });
  return shell || network;
}

/// A file of this build, from the cache (fetched again if it went missing).
async function kept(req) {
  return (await caches.match(req, { cacheName: CACHE })) || fetch(req);
}

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
