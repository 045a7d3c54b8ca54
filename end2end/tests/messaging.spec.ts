import { expect, test } from "./fixtures";
import { bodies, hydrated, logIn, openDirect, openRoom, say, stored, threeInAGroup, twoPeople } from "./helpers";

test("a direct conversation both ways, live", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);

  await openDirect(a, bob, "Bob");

  // The new room reaches Bob live, without a reload.
  await expect(b.locator(".rooms .room", { hasText: "Alice" })).toHaveCount(1);
  await openRoom(b, "Alice");

  let alerted = false;
  b.on("dialog", async (d) => {
    alerted = true;
    await d.dismiss();
  });
  await say(a, "Hi Bob <img src=x onerror=alert(1)>");
  await expect(bodies(b)).toHaveText(["Hi Bob <img src=x onerror=alert(1)>"]);
  await expect(b.locator(".timeline img")).toHaveCount(0);
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", /^(sent|delivered|read)$/);

  await say(b, "Hello Alice\nsecond line");
  await expect(bodies(a)).toHaveText(["Hi Bob <img src=x onerror=alert(1)>", "Hello Alice\nsecond line"]);
  await expect(a.locator(".msg:not(.mine) .from")).toHaveText(["Bob"]);
  expect(alerted, "the body is text, no script ran").toBe(false);
});

test("a group of three", async ({ browser }) => {
  const pages = await threeInAGroup(browser, "Trio");
  const [ann, ben, cat] = pages;
  await openRoom(ben, "Trio");
  await openRoom(cat, "Trio");

  await say(ann, "one");
  await expect(bodies(ben)).toHaveText(["one"]);
  await say(ben, "two");
  await expect(bodies(cat)).toHaveText(["one", "two"]);
  await say(cat, "three");
  for (const p of pages) await expect(bodies(p)).toHaveText(["one", "two", "three"]);
});

test("offline and back: nothing lost, nothing twice", async ({ browser }) => {
  const { bob, actx, bctx, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  await say(a, "before");
  await expect(bodies(b)).toHaveText(["before"]);

  // B goes offline; A sends five; B comes back and has all five, in order, once.
  await bctx.setOffline(true);
  await expect(b.locator(".banner")).toHaveText("Reconnecting…");
  for (let i = 1; i <= 5; i++) await say(a, `m${i}`);
  await expect(stored(a)).toHaveCount(6);
  await bctx.setOffline(false);
  await expect(b.locator(".banner")).toHaveText("Back online");
  await expect(bodies(b)).toHaveText(["before", "m1", "m2", "m3", "m4", "m5"]);

  // A sends while offline: a clock, then ✓ once back; B gets it once.
  await actx.setOffline(true);
  await expect(a.locator(".banner")).toHaveText("Reconnecting…");
  await say(a, "sent while offline");
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", "pending");
  await actx.setOffline(false);
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", /^(sent|delivered|read)$/);
  await expect(bodies(b)).toHaveText(["before", "m1", "m2", "m3", "m4", "m5", "sent while offline"]);
});

test("a message pending at a reload is sent once after it", async ({ browser }) => {
  const { bob, actx, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");

  // A's next socket goes to a stand-in that never answers: the message stays pending.
  let hold = true;
  await actx.routeWebSocket(/\/ws$/, (ws) => {
    if (!hold) ws.connectToServer();
  });
  await actx.setOffline(true);
  await expect(a.locator(".banner")).toHaveText("Reconnecting…");
  await actx.setOffline(false);
  await say(a, "typed before the reload");
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", "pending");
  await a.waitForTimeout(500);
  await expect(bodies(b)).toHaveCount(0);
  hold = false;
  await a.reload();
  await hydrated(a);
  await expect(bodies(b)).toHaveText(["typed before the reload"]);
  await expect(bodies(a)).toHaveText(["typed before the reload"]);
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", /^(sent|delivered|read)$/);
  // Still once, after another reload.
  await b.reload();
  await hydrated(b);
  await expect(bodies(b)).toHaveText(["typed before the reload"]);
});

test("older messages load when scrolling up", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  for (let i = 1; i <= 70; i++) await say(a, `m${i}`);
  await expect(stored(a)).toHaveCount(70);
  // Bob read them as they came (else the room would open at the first unread).
  await expect(a.locator(".msg.mine").last()).toHaveAttribute("data-state", "read");

  // A new device starts with the latest 50 and fetches the rest on the way up.
  const fresh = await (await browser.newContext()).newPage();
  await logIn(fresh, bob);
  await openRoom(fresh, "Alice");
  await expect(bodies(fresh).last()).toHaveText("m70");
  await expect(bodies(fresh)).toHaveCount(50);
  await fresh.locator(".timeline").evaluate((el) => (el.scrollTop = 0));
  await expect(bodies(fresh)).toHaveCount(70);
  await expect(bodies(fresh).first()).toHaveText("m1");
  // The page did not jump: what was at the top is still in view.
  await expect(fresh.locator('.timeline .msg[data-seq="21"]')).toBeInViewport();
  const seqs = await fresh.locator(".timeline .msg").evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  expect(seqs).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));

});
