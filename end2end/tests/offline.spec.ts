import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { bodies, hydrated, isPhone, logIn, newGroup, openDirect, openRoom, say, stored, toList, twoPeople } from "./helpers";

// The app offline: the service worker answers a reload with the app shell,
// the app renders what this device kept (IndexedDB), and what is written
// offline goes once, in order, when the network returns.

/** Waits until the service worker controls the page (it keeps the shell first). */
async function workerReady(page: Page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
}

/** The rooms whose rows this device kept, by id, with the bodies of their messages. */
function kept(page: Page) {
  return page.evaluate(async () => {
    const dbs = await indexedDB.databases();
    const name = dbs.map((d) => d.name).find((n) => n?.startsWith("chat-"));
    if (!name) return {} as Record<string, string[]>;
    const db: IDBDatabase = await new Promise((ok, fail) => {
      const req = indexedDB.open(name);
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    const all: string[] = await new Promise((ok, fail) => {
      const req = db.transaction("timelines").objectStore("timelines").getAll();
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    db.close();
    const rooms: Record<string, string[]> = {};
    for (const text of all) {
      const room = JSON.parse(text);
      rooms[room.summary.name] = room.rows.filter((m: { kind?: string }) => !m.kind || m.kind === "message").map((m: { body: string }) => m.body);
    }
    return rooms;
  });
}

/** The names of this origin's IndexedDB databases of people. */
function databases(page: Page) {
  return page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith("chat-")));
}

test.describe(() => {
  // The browser reports each request an offline page makes (the API, the socket).
  test.use({ allowedErrors: [/ERR_INTERNET_DISCONNECTED/] });

  test("offline, a reload opens the app with both rooms read; what is written then goes once, in order", async ({ browser }) => {
    const { alice, bob, actx, a, b } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    await say(a, "hello Bob");
    await newGroup(a, "Trip", [bob]);
    await say(a, "tickets booked");
    await openDirect(a, bob, "Bob");
    await workerReady(a);
    await expect.poll(() => kept(a)).toEqual({ Bob: ["hello Bob"], Trip: ["tickets booked"] });

    await actx.setOffline(true);
    await a.reload();
    await hydrated(a);
    // The shell answered (not the server), and the app shows what it kept.
    await expect(a.locator("body")).toHaveAttribute("data-shell", "true");
    await expect(a.locator(".banner")).toHaveText("Offline — showing saved messages");
    await expect(a.locator(".me .handle")).toHaveText(`@${alice}`);
    await expect(a.locator(".room-header h2")).toHaveText("Bob");
    await expect(bodies(a)).toHaveText(["hello Bob"]);
    // The header waits for the network quietly: the banner says why.
    await expect(a.locator(".room-header .error")).toHaveCount(0);
    await openRoom(a, "Trip");
    await expect(bodies(a)).toHaveText(["tickets booked"]);

    // Two messages written offline, a reload between them and the network.
    await openRoom(a, "Bob");
    await say(a, "offline one");
    await say(a, "offline two");
    await expect(a.locator(".msg.mine[data-state=pending]")).toHaveCount(2);
    await a.reload();
    await hydrated(a);
    await expect(a.locator(".msg.mine[data-state=pending]")).toHaveCount(2);
    await actx.setOffline(false);
    await openRoom(b, "Alice");
    await expect(bodies(b)).toHaveText(["hello Bob", "offline one", "offline two"]);
    await expect(a.locator(".msg.mine[data-state=pending]")).toHaveCount(0);
    await expect(a.locator(".banner")).toHaveText("Back online");
    await expect(a.locator(".room-header .members")).toContainText(bob);
    // Once back, the room list is the server's again.
    await toList(a);
    await expect(a.locator(".rooms .room")).toHaveCount(2);
    await expect(bodies(b)).toHaveCount(3);
  });

  test("two tabs offline each write a message: online, each arrives once", async ({ browser }) => {
    const { bob, actx, a, b } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    await say(a, "first");
    await workerReady(a);
    const a2 = await actx.newPage();
    await a2.goto(a.url());
    await hydrated(a2);
    await expect(bodies(a2)).toHaveText(["first"]);

    await actx.setOffline(true);
    // (The second tab may not have heard the server yet: it shows what the device kept.)
    for (const p of [a, a2]) await expect(p.locator(".banner")).toHaveText(/^(Reconnecting…|Offline — showing saved messages)$/);
    await say(a, "from tab one");
    await say(a2, "from tab two");
    await actx.setOffline(false);
    await openRoom(b, "Alice");
    await expect(bodies(b)).toHaveCount(3);
    await expect(bodies(b).filter({ hasText: "from tab one" })).toHaveCount(1);
    await expect(bodies(b).filter({ hasText: "from tab two" })).toHaveCount(1);
    // Each tab shows both, once.
    for (const p of [a, a2]) {
      await expect(bodies(p)).toHaveCount(3);
      await expect(p.locator(".msg.mine[data-state=pending]")).toHaveCount(0);
    }
    await b.waitForTimeout(1000);
    await expect(bodies(b)).toHaveCount(3);
  });

  test("a tab closed offline leaves what it wrote to the other tab, which sends it", async ({ browser }) => {
    const { bob, actx, a, b } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    await say(a, "first");
    const a2 = await actx.newPage();
    await a2.goto(a.url());
    await hydrated(a2);
    await expect(bodies(a2)).toHaveText(["first"]);

    await actx.setOffline(true);
    await say(a, "written in the tab that closes");
    // The other tab shows it waiting too: the device's outbox is one.
    await expect(a2.locator(".msg.mine[data-state=pending]")).toHaveCount(1);
    await say(a2, "written in the tab that stays");
    await expect(a.locator(".msg.mine[data-state=pending]")).toHaveCount(2);
    await a.close();
    await actx.setOffline(false);
    await openRoom(b, "Alice");
    await expect(bodies(b)).toHaveText(["first", "written in the tab that closes", "written in the tab that stays"]);
    await expect(a2.locator(".msg.mine[data-state=pending]")).toHaveCount(0);
    await expect(bodies(a2)).toHaveCount(3);
  });
});

test("a device too full to keep messages says so, and the app keeps working", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  const cdp = await a.context().newCDPSession(a);
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(a.url()).origin, quotaSize: 1 });
  await openDirect(a, bob, "Bob");
  await say(a, "still sent");
  await expect(a.getByRole("status").filter({ hasText: "This device is full" })).toBeVisible();
  await expect(stored(a)).toHaveCount(1);
  await openRoom(b, "Alice");
  await expect(bodies(b)).toHaveText(["still sent"]);
  // Room again: the offline copy is written once more.
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(a.url()).origin });
  await say(a, "and again");
  await expect(a.getByRole("status").filter({ hasText: "This device is full" })).toHaveCount(0);
  await expect.poll(() => kept(a)).toEqual({ Bob: ["still sent", "and again"] });
});

test("a message the previous version left unsent is sent after the upgrade", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  const room = Number(new URL(a.url()).pathname.split("/").pop());
  const me: number = await a.evaluate(() => JSON.parse(localStorage.getItem("chat.me")!).user.id);
  // The earlier outbox: one list per person.
  await a.evaluate(
    ([room, me]) =>
      localStorage.setItem(
        `chat.outbox.${me}`,
        JSON.stringify([{ cid: crypto.randomUUID(), room, body: "left by the old version", kind: "message", created: Date.now() }]),
      ),
    [room, me],
  );
  await a.reload();
  await hydrated(a);
  await openRoom(b, "Alice");
  await expect(bodies(b)).toHaveText(["left by the old version"]);
  await expect(bodies(a)).toHaveText(["left by the old version"]);
  expect(await a.evaluate((me) => localStorage.getItem(`chat.outbox.${me}`), me)).toBeNull();
});

test("logging out erases what this device kept of the person", async ({ browser }) => {
  const { alice, bob, a } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "something private");
  await expect.poll(() => kept(a)).toEqual({ Bob: ["something private"] });
  expect(await databases(a)).toHaveLength(1);
  expect(await a.evaluate(() => localStorage.getItem("chat.me"))).toContain(alice);

  await toList(a);
  await a.getByRole("button", { name: "Log out" }).click();
  await expect(a).toHaveURL(/\/login$/);
  await hydrated(a);
  expect(await databases(a)).toEqual([]);
  expect(await a.evaluate(() => localStorage.getItem("chat.me"))).toBeNull();

  // Logging in again starts from the server, not from anything left behind.
  await logIn(a, alice);
  await openRoom(a, "Bob");
  await expect(bodies(a)).toHaveText(["something private"]);
  if (await isPhone(a)) await toList(a);
});
