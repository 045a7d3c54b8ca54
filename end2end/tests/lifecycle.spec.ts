import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { bodies, flood, newGroup, openDirect, openRoom, say, signUp, stored, twoPeople, uniqueHandle } from "./helpers";

/** The message of `page` whose body is `text`. */
function message(page: Page, text: string) {
  return page.locator(".timeline .msg", { has: page.locator(".body", { hasText: text }) });
}

/** Opens the actions of the message `text` and picks `action`. */
async function act(page: Page, text: string, action: string) {
  const m = message(page, text);
  await m.hover();
  await m.getByRole("button", { name: "More actions" }).click();
  await m.getByRole("group", { name: "Actions" }).getByRole("button", { name: action, exact: true }).click();
}

test("an edit reaches the other person live and stays after a reload", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  await say(a, "see you at 5");
  await expect(bodies(b)).toHaveText(["see you at 5"]);
  await act(a, "see you at 5", "Edit");
  const edit = a.getByLabel("Edited text");
  await expect(edit).toBeFocused();
  await expect(edit).toHaveValue("see you at 5");
  await edit.fill("see you at **6**");
  await edit.press("Enter");
  await expect(bodies(a)).toHaveText(["see you at 6"]);
  await expect(bodies(b)).toHaveText(["see you at 6"]);
  await expect(b.locator(".msg strong")).toHaveText("6");
  await expect(message(b, "see you at 6").locator(".edited")).toHaveAttribute("title", /^Edited \d\d:\d\d$/);
  await b.reload();
  await expect(bodies(b)).toHaveText(["see you at 6"]);
  await expect(message(b, "see you at 6").locator(".edited")).toHaveText("(edited)");
  // Nothing of this is unread for Bob, nor for Alice.
  await expect(a.locator(".rooms .room .badge")).toHaveCount(0);
});

test.describe("offline", () => {
  // Chromium itself logs the reconnects it cannot make while offline.
  test.use({ allowedErrors: [/ERR_INTERNET_DISCONNECTED/] });

  test("offline, the other person deletes and reacts; back online, all converges", async ({ browser }) => {
    const { bob, a, b, bctx } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    await openRoom(b, "Alice");
    for (const text of ["wrong room, sorry", "keep this", "and this"]) await say(a, text);
    await expect(bodies(b)).toHaveText(["wrong room, sorry", "keep this", "and this"]);
    await say(b, "ok");
    await expect(stored(b)).toHaveCount(1);

    await bctx.setOffline(true);
    await expect(b.locator(".banner")).toHaveText("Reconnecting…");
    await act(a, "wrong room, sorry", "Delete");
    await message(a, "wrong room, sorry").getByRole("button", { name: "For everyone", exact: true }).click();
    await expect(a.locator(".msg.deleted")).toHaveCount(1);
    await act(a, "ok", "React");
    const picker = a.getByRole("dialog", { name: "Emoji" });
    await picker.getByRole("button", { name: "thumbs up" }).click();
    await expect(message(a, "ok").locator(".chip")).toHaveText("👍 1");
    await expect(message(a, "ok").locator(".chip")).toHaveAttribute("aria-pressed", "true");

    await bctx.setOffline(false);
    await expect(b.locator(".banner")).toHaveText("Back online");
    await expect(b.locator(".msg.deleted .body")).toHaveText("Message deleted");
    await expect(bodies(b)).toHaveText(["Message deleted", "keep this", "and this", "ok"]);
    const chip = message(b, "ok").locator(".chip");
    await expect(chip).toHaveText("👍 1");
    await expect(chip).toHaveAttribute("title", "Alice");
    await expect(chip).toHaveAttribute("aria-pressed", "false");
    // Bob adds his: two, and his own highlighted; Alice sees two.
    await chip.click();
    await expect(chip).toHaveText("👍 2");
    await expect(chip).toHaveAttribute("aria-pressed", "true");
    await expect(message(a, "ok").locator(".chip")).toHaveText("👍 2");
    // The room list's preview shows no deleted text anywhere.
    await expect(a.locator(".rooms")).not.toContainText("wrong room");
  });
});

test("by keyboard: Up edits my last message, Escape leaves it, Enter saves", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  await say(a, "first");
  await say(a, "secnd");
  await expect(stored(a)).toHaveCount(2);
  const box = a.getByLabel("Message", { exact: true });
  await box.focus();
  await box.press("ArrowUp");
  const edit = a.getByLabel("Edited text");
  await expect(edit).toHaveValue("secnd");
  await edit.press("Escape");
  await expect(edit).toHaveCount(0);
  await expect(box).toBeFocused();
  await expect(bodies(a)).toHaveText(["first", "secnd"]);
  await box.press("ArrowUp");
  await edit.fill("second");
  await edit.press("Enter");
  await expect(bodies(b)).toHaveText(["first", "second"]);
  // The actions are reachable by Tab and Enter too: reply to "first".
  await message(a, "first").getByRole("button", { name: "More actions" }).focus();
  await a.keyboard.press("Enter");
  await expect(message(a, "first").getByRole("button", { name: "Reply" })).toBeFocused();
  await a.keyboard.press("Escape");
  await expect(message(a, "first").getByRole("button", { name: "More actions" })).toBeFocused();
});

test("a reply quotes its message and jumps to it 300 messages back", async ({ browser }) => {
  test.setTimeout(90_000);
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "the question");
  await expect(stored(a)).toHaveCount(1);
  await flood(a, 300);
  await expect(a.locator(".msg").last()).toContainText("filler 300");
  // Alice answers the first message, far up her timeline.
  await act(a, "the question", "Reply");
  await expect(a.locator(".reply-banner")).toContainText("the question");
  await say(a, "the answer");
  await expect(a.locator(".reply-banner")).toHaveCount(0);
  // Bob, on a page opened now, holds the room's last page only; the quote
  // brings him back.
  await b.reload();
  await openRoom(b, "Alice");
  const reply = message(b, "the answer");
  await expect(reply.locator(".quote")).toContainText("the question");
  await expect(b.locator('.msg[data-seq="1"]')).toHaveCount(0);
  await reply.locator(".quote").click();
  const target = b.locator('.msg[data-seq="1"]');
  await expect(target).toBeInViewport();
  await expect(target).toBeFocused();
  // One page around it came (not the 300 in between): the hole shows, and
  // fills page by page, by its button or by scrolling to it.
  const gap = b.locator(".timeline .gap");
  await expect(gap).toHaveCount(1);
  expect(await b.locator(".timeline .msg").count()).toBeLessThan(150);
  for (let i = 0; i < 12 && (await gap.count()) > 0; i++) {
    const from = await gap.getAttribute("data-from");
    // Scrolling may have filled it meanwhile: then there is no button to click.
    await gap.getByRole("button", { name: "Load the messages in between" }).click({ timeout: 2_000 }).catch(() => {});
    await expect(b.locator(`.timeline .gap[data-from="${from}"]`)).toHaveCount(0);
  }
  await expect(gap).toHaveCount(0);
  await expect(b.locator(".timeline .msg")).toHaveCount(302);
  // The quote follows its message: edited there, edited here.
  await act(a, "the question", "Edit");
  await a.getByLabel("Edited text").fill("the real question");
  await a.getByLabel("Edited text").press("Enter");
  await expect(reply.locator(".quote")).toContainText("the real question");
});

test("in a room of hundreds, the @ list finds people its first page never listed", async ({ browser }) => {
  test.setTimeout(90_000);
  const page = await (await browser.newContext()).newPage();
  await signUp(page, uniqueHandle("host"), "HOST");
  // 210 people the member list's first page (200, by handle) is full of,
  // and Zelda, whose handle sorts after them all; none of them with a page.
  const crowd = Array.from({ length: 210 }, (_, i) => uniqueHandle(`crowd${i}`));
  const zelda = uniqueHandle("zzlast");
  const ctx = await browser.newContext();
  const people = [...crowd.map((h) => [h, ""]), [zelda, "Zelda Quartz"]];
  for (let i = 0; i < people.length; i += 10) {
    await Promise.all(
      people.slice(i, i + 10).map(async ([handle, name]) => {
        const res = await ctx.request.post("/api/sign_up", {
          data: { handle, display_name: name, password: "correct horse" },
        });
        expect(res.ok()).toBe(true);
      }),
    );
  }
  await ctx.close();
  await newGroup(page, "Hundreds", [...crowd, zelda]);
  await expect(page.locator(".room-header .members")).toContainText("212 members");
  const box = page.getByLabel("Message", { exact: true });
  await box.pressSequentially("hi @Zel");
  const list = page.getByRole("listbox", { name: "Members to mention" });
  await expect(list.getByRole("option", { selected: true })).toHaveText("@Zelda Quartz");
  await box.press("Enter");
  await expect(box).toHaveValue("hi @Zelda Quartz ");
  await box.press("Enter");
  await expect(message(page, "hi").locator(".mention")).toHaveText("@Zelda Quartz");
});

test("a mention picked from the @ list by keyboard highlights the name and counts on the badge", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "before");
  const box = a.getByLabel("Message", { exact: true });
  // "@" opens the room's members (not me), narrowing as one types.
  await box.pressSequentially("lunch @");
  const list = a.getByRole("listbox", { name: "Members to mention" });
  await expect(list.getByRole("option")).toHaveText(["@Bob"]);
  await box.pressSequentially("x");
  await expect(list).toHaveCount(0);
  await box.press("Backspace");
  await expect(list.getByRole("option", { selected: true })).toHaveText("@Bob");
  await box.press("Enter");
  await expect(list).toHaveCount(0);
  await expect(box).toHaveValue("lunch @Bob ");
  await box.pressSequentially("at noon?");
  await box.press("Enter");
  await expect(message(a, "lunch").locator(".mention")).toHaveText("@Bob");
  // Bob, in his list: two unread, one of them calls him.
  const row = b.locator(".rooms .room", { hasText: "Alice" });
  await expect(row.locator(".badge:not(.at)")).toHaveText("2");
  await expect(row.getByLabel("1 unread mentions")).toHaveText("@");
  // The same after a reload (the summary lists it), then read.
  await b.reload();
  await expect(row.getByLabel("1 unread mentions")).toHaveText("@");
  await openRoom(b, "Alice");
  const mine = message(b, "lunch");
  await expect(mine).toHaveClass(/calls-me/);
  await expect(mine.locator(".mention.to-me")).toHaveText("@Bob");
  await expect(message(b, "before")).not.toHaveClass(/calls-me/);
  await expect(row.locator(".badge")).toHaveCount(0);
  // Text that merely looks like a mention is none.
  await say(a, "mail @Bob directly");
  await expect(message(b, "mail")).toBeVisible();
  await expect(message(b, "mail").locator(".mention")).toHaveCount(0);
});

test("delete for me hides a message on each of my devices and nowhere else", async ({ browser }) => {
  const { bob, a, b, bctx } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "keep this");
  await say(a, "bin this");
  await openRoom(b, "Alice");
  await expect(bodies(b)).toHaveText(["keep this", "bin this"]);
  // Bob's second device, on the same room.
  const b2 = await bctx.newPage();
  await b2.goto(b.url());
  await expect(bodies(b2)).toHaveText(["keep this", "bin this"]);
  await act(b, "bin this", "Delete");
  await message(b, "bin this").getByRole("button", { name: "For me", exact: true }).click();
  await expect(bodies(b)).toHaveText(["keep this"]);
  await expect(bodies(b2)).toHaveText(["keep this"]);
  await expect(bodies(a)).toHaveText(["keep this", "bin this"]);
  // Someone else's message offers no delete for everyone.
  await act(b, "keep this", "Delete");
  await expect(message(b, "keep this").getByRole("button", { name: "For everyone" })).toHaveCount(0);
  await message(b, "keep this").getByRole("button", { name: "Cancel" }).click();
  await b.reload();
  await expect(bodies(b)).toHaveText(["keep this"]);
});
