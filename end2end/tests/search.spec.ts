import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { flood, openDirect, openRoom, say, stored, twoPeople } from "./helpers";

/** The message of `page` whose body is `text`. */
function message(page: Page, text: string) {
  return page.locator(".timeline .msg", { has: page.locator(".body", { hasText: text }) });
}

test("Ctrl+K finds a Korean word inside longer ones and opens a message 500 back in place", async ({ browser }) => {
  test.setTimeout(90_000);
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "내일회의는 3시에 시작해요");
  await expect(stored(a)).toHaveCount(1);
  await flood(a, 500, 10);
  await say(a, "회의록은 나중에 보내요");
  await expect(message(a, "회의록은")).toHaveCount(1);

  // From anywhere (Bob is on his room list), by keyboard alone.
  await b.reload();
  await b.locator("body[data-hydrated=true]").waitFor();
  await b.keyboard.press("Control+K");
  const box = b.getByRole("combobox", { name: "Search messages" });
  await expect(box).toBeFocused();
  await box.fill("회의");
  const hits = b.getByRole("listbox", { name: "Messages found" }).getByRole("option");
  await expect(hits).toHaveCount(2);
  await expect(hits.nth(0).locator("mark")).toHaveText("회의");
  await expect(hits.nth(1)).toContainText("내일회의는 3시에 시작해요");
  await expect(hits.nth(1).locator("mark")).toHaveText("회의");
  await expect(hits.nth(1)).toContainText("Alice");
  await expect(b.getByRole("status").filter({ hasText: "2 messages" })).toHaveCount(1);
  await box.press("ArrowDown");
  await expect(hits.nth(1)).toHaveAttribute("aria-selected", "true");
  await box.press("Enter");

  // The room opens at the message, highlighted, with the page around it.
  await expect(b.getByRole("dialog", { name: "Search messages" })).toHaveCount(0);
  await expect(b.locator(".room-header h2")).toHaveText("Alice");
  const target = message(b, "내일회의는 3시에 시작해요");
  await expect(target).toBeInViewport();
  await expect(target).toHaveClass(/flash/);
  await expect(target).toBeFocused();
  // The timeline goes on both ways from there: the hole up to the latest
  // page is shown, and the latest message is there too.
  await expect(b.locator(".timeline .gap")).toHaveCount(1);
  await expect(message(b, "회의록은 나중에 보내요")).toHaveCount(1);
  expect(await b.locator(".timeline .msg").count()).toBeLessThan(200);
});

test("the room header searches that room, explains what it cannot read, and Escape closes", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "the quarterly report is ready");
  await expect(stored(a)).toHaveCount(1);
  await openRoom(b, "Alice");
  const opener = b.getByRole("button", { name: "Search in this room" });
  await opener.click();
  const box = b.getByRole("combobox", { name: "Search messages" });
  await expect(box).toBeFocused();
  await expect(b.getByRole("button", { name: "Searching in Alice: search all rooms instead" })).toBeVisible();
  await box.fill("quart");
  const hits = b.getByRole("listbox", { name: "Messages found" }).getByRole("option");
  await expect(hits).toHaveCount(1);
  await expect(hits.first().locator("mark")).toHaveText("quarterly");
  // What a person types that the search cannot take is explained.
  await box.fill("report before:someday");
  await expect(b.getByRole("status").filter({ hasText: "before: takes a date such as" })).toHaveCount(1);
  await expect(hits).toHaveCount(0);
  await box.fill('"report (is');
  await expect(hits).toHaveCount(1);
  await box.fill("zebra");
  await expect(b.getByRole("status").filter({ hasText: "No messages found." })).toHaveCount(1);
  await box.press("Escape");
  await expect(b.getByRole("dialog", { name: "Search messages" })).toHaveCount(0);
  await expect(opener).toBeFocused();
});
