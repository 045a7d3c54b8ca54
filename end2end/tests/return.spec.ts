import { expect, test } from "./fixtures";
import { bodies, hydrated, openDirect, say, twoPeople } from "./helpers";

test("a page opened on a room with unread messages shows the divider there", async ({ browser }) => {
  const { bob, alice, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "one");
  await say(a, "two");
  const row = b.locator(".rooms .room", { hasText: "Alice" });
  await expect(row.locator(".badge")).toHaveText("2");
  const href = await row.locator("a").getAttribute("href");

  await b.goto(href!);
  await hydrated(b);
  await expect(bodies(b)).toHaveText(["one", "two"]);

  await expect(b.locator(".unread-divider")).toHaveText("2 new messages");
});
