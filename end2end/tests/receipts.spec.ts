import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { bodies, cat, logIn, openDirect, openRoom, say, stored, threeInAGroup, twoPeople } from "./helpers";

function badge(page: Page, name: string) {
  return page.locator(".rooms .room", { hasText: name }).locator(".badge");
}

test("B scrolls A's messages into view and A sees blue ticks", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  for (let i = 1; i <= 30; i++) await say(a, `m${i}`);
  await expect(stored(a)).toHaveCount(30);
  // Bob's device holds them (grey ✓✓) before he opens the room.
  await expect(a.locator('.msg.mine[data-seq="30"]')).toHaveAttribute("data-state", "delivered");

  // Opening jumps to the first unread: the top ones are seen, the last are not on screen yet.
  await openRoom(b, "Alice");
  await expect(b.locator(".unread-divider")).toHaveText("30 new messages");
  await expect(a.locator('.msg.mine[data-seq="1"]')).toHaveAttribute("data-state", "read");
  await expect(b.locator('.msg[data-seq="30"]')).not.toBeInViewport();
  await expect(a.locator('.msg.mine[data-seq="30"]')).toHaveAttribute("data-state", "delivered");

  await b.locator(".timeline").evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(a.locator('.msg.mine[data-seq="30"]')).toHaveAttribute("data-state", "read");
  await expect(a.locator('.msg.mine[data-seq="30"] .tick')).toHaveText("✓✓");
});

test("B types and A sees it, then it goes away", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  await b.getByLabel("Message", { exact: true }).pressSequentially("hel");
  await expect(a.locator(".typing")).toHaveText("Bob is typing…");
  // Stopped typing: gone after a few seconds.
  await expect(a.locator(".typing")).toHaveText("", { timeout: 15_000 });
  // Typing, then sending: gone with the message.
  await b.getByLabel("Message", { exact: true }).pressSequentially("lo");
  await expect(a.locator(".typing")).toHaveText("Bob is typing…");
  await b.getByLabel("Message", { exact: true }).press("Enter");
  await expect(bodies(a)).toHaveText(["hello"]);
  await expect(a.locator(".typing")).toHaveText("");
});

test("unread counts up in another room and clears on opening", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  const { handle: catHandle } = await cat(browser);
  await openDirect(a, bob, "Bob");
  await openDirect(b, catHandle, "Cat");

  for (let i = 1; i <= 3; i++) await say(a, `m${i}`);
  await expect(badge(b, "Alice")).toHaveText("3");
  await expect(b).toHaveTitle("(3) Chat");
  await expect(badge(b, "Cat")).toHaveCount(0);

  await openRoom(b, "Alice");
  await expect(badge(b, "Alice")).toHaveCount(0);
  await expect(b).toHaveTitle("Chat");
  await expect(b.locator(".unread-divider")).toHaveText("3 new messages");
  await expect(bodies(b)).toHaveText(["m1", "m2", "m3"]);
  // Read on the server too: a reload shows no badge.
  await b.reload();
  await expect(b.locator(".rooms .room", { hasText: "Alice" })).toHaveCount(1);
  await expect(badge(b, "Alice")).toHaveCount(0);
});

test("reading on one device clears the badge on the other", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  const b2 = await (await browser.newContext()).newPage();
  await logIn(b2, bob);
  await openDirect(a, bob, "Bob");
  await say(a, "one");
  await say(a, "two");
  await expect(badge(b, "Alice")).toHaveText("2");
  await expect(badge(b2, "Alice")).toHaveText("2");

  await openRoom(b, "Alice");
  await expect(badge(b2, "Alice")).toHaveCount(0);
  await expect(b2).toHaveTitle("Chat");
});

test("A sees B online, then offline when B's context closes", async ({ browser }) => {
  const { bob, a, bctx } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await expect(a.locator(".room-header .presence")).toHaveText("online");
  await expect(a.locator('.rooms .room[data-online="true"]', { hasText: "Bob" })).toHaveCount(1);

  await bctx.close();
  await expect(a.locator(".room-header .presence")).toHaveText("last seen just now");
  await expect(a.locator('.rooms .room[data-online="true"]')).toHaveCount(0);
});

test("in a group, ticks turn blue when everyone has read, and a tap says who", async ({ browser }) => {
  const [ann, ben, cat] = await threeInAGroup(browser, "Ticks");

  await openRoom(ben, "Ticks");
  await say(ann, "who reads this?");
  const mine = ann.locator('.msg.mine[data-seq="1"]');
  // Ben read it, Cat's device does not have the room open: not blue yet.
  await expect(mine.locator(".tick")).toHaveAttribute("title", "Read by 1 of 2");
  await expect(mine).not.toHaveAttribute("data-state", "read");
  // The names are asked for when shown.
  await mine.locator(".meta").click();
  await expect(mine.locator(".read-by")).toHaveText("Read by 1 of 2: BEN");

  // They follow while shown.
  await openRoom(cat, "Ticks");
  await expect(mine).toHaveAttribute("data-state", "read");
  await expect(mine.locator(".read-by")).toHaveText("Read by 2 of 2: BEN, CAT");
  await mine.locator(".meta").click();
  await expect(mine.locator(".read-by")).toHaveCount(0);

  // And by keyboard, from the message's actions.
  await mine.getByRole("button", { name: "More actions" }).focus();
  await ann.keyboard.press("Enter");
  await expect(mine.getByRole("button", { name: "Reply" })).toBeFocused();
  await mine.getByRole("button", { name: "Read by" }).focus();
  await ann.keyboard.press("Enter");
  await expect(mine.locator(".read-by")).toHaveText("Read by 2 of 2: BEN, CAT");
});
