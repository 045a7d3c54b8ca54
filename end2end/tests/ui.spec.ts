import AxeBuilder from "@axe-core/playwright";
import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import {
  bodies,
  cat,
  hydrated,
  isPhone,
  newGroup,
  openDirect,
  openRoom,
  say,
  stored,
  threePeople,
  toList,
  twoPeople,
  uniqueHandle,
} from "./helpers";

/** Serious or critical accessibility violations on the page as it is now. */
async function violations(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Whether anything sticks out of the page sideways. */
async function overflowsSideways(page: Page) {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}

test("a group with a long name and many members fits the screen, name and actions visible", async ({ browser }) => {
  const { handles, pages } = await threePeople(browser);
  const [ann] = pages;
  const name = "The weekend trip to the mountains with everyone from the office";
  await newGroup(ann, name, handles.slice(1));
  const header = ann.locator(".room-header");
  await expect(header.locator("h2")).toBeInViewport();
  await expect(header.locator(".members")).toContainText(handles[2]);
  await expect(ann.getByLabel("Add a member by handle")).toBeInViewport();
  await expect(ann.getByRole("button", { name: "Add", exact: true })).toBeInViewport();
  if (await isPhone(ann)) await expect(header.locator(".back")).toBeInViewport();
  expect(await overflowsSideways(ann)).toBe(false);
  // The header is one band at the top, not half the screen.
  const box = (await header.boundingBox())!;
  expect(box.height).toBeLessThan(200);
});

test("a big group's header names five members and counts the rest", async ({ browser }) => {
  const { handles, pages } = await threePeople(browser);
  const [ann] = pages;
  // Five more people, signed up without a page.
  const more = Array.from({ length: 5 }, (_, i) => uniqueHandle(`guest${i}`));
  for (const handle of more) {
    const ctx = await browser.newContext();
    const res = await ctx.request.post("/api/sign_up", {
      data: { handle, display_name: "", password: "correct horse" },
    });
    expect(res.ok()).toBe(true);
    await ctx.close();
  }
  await newGroup(ann, "Crowd", [...handles.slice(1), ...more]);
  const members = ann.locator(".room-header .members");
  await expect(members).toHaveAttribute("data-members", "8");
  await expect(members).toContainText(/^8 members · @/);
  await expect(members).toContainText("and 3 others");
  await expect(members).toContainText(`@${handles[0]}`);
  expect(await overflowsSideways(ann)).toBe(false);
});

test("dialogs: focus goes in, stays in, and comes back; Escape closes; a room focuses its composer", async ({
  browser,
}) => {
  const { bob, a } = await twoPeople(browser);
  const opener = a.getByRole("button", { name: "New message" });
  await opener.click();
  const dialog = a.getByRole("dialog", { name: "New message" });
  await expect(a.getByLabel("Handle of the person")).toBeFocused();
  // Tab cycles through the dialog's controls only.
  for (let i = 0; i < 6; i++) {
    await a.keyboard.press("Tab");
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await a.keyboard.press("Shift+Tab");
  expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  await a.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(opener).toBeFocused();

  // By keyboard alone: open the dialog, type, submit, land in the room.
  await opener.press("Enter");
  await a.keyboard.type(bob);
  await a.keyboard.press("Enter");
  await expect(a.locator(".room-header h2")).toHaveText("Bob");
  if (!(await isPhone(a))) await expect(a.getByLabel("Message", { exact: true })).toBeFocused();
  await a.getByLabel("Message", { exact: true }).fill("typed by keyboard");
  await a.getByLabel("Message", { exact: true }).press("Enter");
  await expect(stored(a)).toHaveCount(1);
});

test("the draft of each room survives switching rooms and reloading", async ({ browser }) => {
  const { bob, a } = await twoPeople(browser);
  const { handle: catHandle } = await cat(browser);
  await openDirect(a, bob, "Bob");
  await a.getByLabel("Message", { exact: true }).fill("half a thought for Bob");
  await openDirect(a, catHandle, "Cat");
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("");
  await a.getByLabel("Message", { exact: true }).fill("for Cat");
  await openRoom(a, "Bob");
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("half a thought for Bob");
  await a.reload();
  await hydrated(a);
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("half a thought for Bob");
  await a.getByLabel("Message", { exact: true }).press("Enter");
  await expect(stored(a)).toHaveCount(1);
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("");
  await a.reload();
  await hydrated(a);
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("");
  await openRoom(a, "Cat");
  await expect(a.getByLabel("Message", { exact: true })).toHaveValue("for Cat");
});

test("scrolled up, new messages do not move the view; '↓ N new' jumps to them", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await openRoom(b, "Alice");
  for (let i = 1; i <= 40; i++) await say(a, `m${i}`);
  await expect(bodies(b)).toHaveCount(40);
  // Followed down to the newest, then the person scrolls up.
  await expect(b.locator('.msg[data-seq="40"]')).toBeInViewport();
  await b.waitForTimeout(200);
  const timeline = b.locator(".timeline");
  await timeline.evaluate((el) => (el.scrollTop = 300));
  await b.waitForTimeout(300);
  const top = await timeline.evaluate((el) => el.scrollTop);
  for (let i = 41; i <= 43; i++) await say(a, `m${i}`);
  await expect(bodies(b)).toHaveCount(43);
  await expect(b.getByRole("button", { name: /3 new messages below/ })).toHaveText("↓ 3 new");
  expect(await timeline.evaluate((el) => el.scrollTop)).toBe(top);
  await b.getByRole("button", { name: /new messages below/ }).click();
  await expect(b.locator('.msg[data-seq="43"]')).toBeInViewport();
  await expect(b.locator(".to-latest")).toHaveCount(0);
});

test("web addresses in messages are links that open apart; nothing else is", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "see https://example.com/a?b=1, or javascript:alert(1) and http://x.org.");
  await openRoom(b, "Alice");
  const links = bodies(b).locator("a");
  await expect(links).toHaveCount(2);
  await expect(links.nth(0)).toHaveAttribute("href", "https://example.com/a?b=1");
  await expect(links.nth(1)).toHaveAttribute("href", "http://x.org");
  for (const i of [0, 1]) {
    await expect(links.nth(i)).toHaveAttribute("target", "_blank");
    await expect(links.nth(i)).toHaveAttribute("rel", "noopener noreferrer");
  }
  await expect(bodies(b)).toHaveText("see https://example.com/a?b=1, or javascript:alert(1) and http://x.org.");
});

test("bodies are formatted with a safe subset of Markdown; markup and bad links stay text", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "**bold**, *it*, ~~gone~~ and `x < y`\n> quoted\n\n- one\n- [two](https://example.com/2)");
  await say(a, "[click](javascript:alert(1)) <b>raw</b> ![pixel](https://example.com/p.png)");
  await openRoom(b, "Alice");
  for (const page of [b, a]) {
    const [first, second] = [bodies(page).nth(0), bodies(page).nth(1)];
    await expect(first.locator("strong")).toHaveText("bold");
    await expect(first.locator("em")).toHaveText("it");
    await expect(first.locator("s")).toHaveText("gone");
    await expect(first.locator("code")).toHaveText("x < y");
    await expect(first.locator("blockquote")).toHaveText("quoted");
    await expect(first.locator("ul > li")).toHaveText(["one", "two"]);
    await expect(first.locator("a")).toHaveAttribute("href", "https://example.com/2");
    await expect(first.locator("a")).toHaveAttribute("rel", "noopener noreferrer");
    await expect(second).toHaveText("click <b>raw</b> pixel");
    await expect(second.locator("a, b, img")).toHaveCount(0);
  }
  // Rendered by the server after a reload: the same.
  await b.reload();
  await expect(bodies(b).nth(0).locator("strong")).toHaveText("bold");
  await expect(bodies(b).nth(1).locator("a, b, img")).toHaveCount(0);
});

test("a room's notifications are set from its header, by keyboard too; the list shows a muted room; it stays after a reload", async ({ browser }) => {
  const { bob, a } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  const level = () => a.getByLabel("Notifications", { exact: true });
  await expect(level()).toHaveValue("all");
  // The arrows move through the levels: all → mentions and replies → off.
  await level().focus();
  await a.keyboard.press("ArrowDown");
  await expect(level()).toHaveValue("mentions");
  await expect(a.locator(".rooms .room .muted-icon")).toHaveCount(0);
  await a.keyboard.press("ArrowDown");
  await expect(level()).toHaveValue("none");
  await expect(a.locator(".rooms .room .muted-icon")).toHaveCount(1);
  await a.reload();
  await expect(level()).toHaveValue("none");
  await expect(a.locator(".rooms .room .muted-icon")).toHaveCount(1);
  await level().selectOption("All messages");
  await expect(a.locator(".rooms .room .muted-icon")).toHaveCount(0);
  await a.reload();
  await expect(level()).toHaveValue("all");
});

test("emoji go in at the cursor from the picker, by keyboard; Escape closes it and gives the focus back", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  const box = a.getByLabel("Message", { exact: true });
  await box.fill("ab");
  await box.press("ArrowLeft");
  const toggle = a.getByRole("button", { name: "Insert emoji" });
  await toggle.click();
  const picker = a.getByRole("dialog", { name: "Emoji" });
  await expect(picker).toBeVisible();
  await expect(picker.getByRole("button", { name: "grinning" })).toBeFocused();
  await a.keyboard.press("ArrowRight");
  await a.keyboard.press("ArrowDown");
  await expect(picker.getByRole("button", { name: "sweat smile" })).toBeFocused();
  await a.keyboard.press("ArrowDown");
  await expect(picker.getByRole("button", { name: "thumbs down" })).toBeFocused();
  await a.keyboard.press("Enter");
  await expect(picker).toHaveCount(0);
  await expect(box).toHaveValue("a👎b");
  await expect(box).toBeFocused();
  await a.keyboard.type("c");
  await expect(box).toHaveValue("a👎cb", { timeout: 2000 });
  // Escape closes without a pick, back on the button.
  await toggle.click();
  await expect(picker.getByRole("button", { name: "grinning" })).toBeFocused();
  await a.keyboard.press("Escape");
  await expect(picker).toHaveCount(0);
  await expect(toggle).toBeFocused();
  await box.press("Enter");
  await openRoom(b, "Alice");
  await expect(bodies(b)).toHaveText(["a👎cb"]);
});

test("the composer counts down near the limit and never cuts a long text", async ({ browser }) => {
  const { bob, a } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  const box = a.getByLabel("Message", { exact: true });
  await box.fill("x".repeat(3_900));
  await expect(a.locator(".compose-note")).toHaveText("100 left");
  await box.fill("x".repeat(4_001));
  await expect(box).toHaveValue("x".repeat(4_001));
  await expect(a.locator(".compose-note")).toContainText("at most 4000 characters (this one has 4001)");
  await expect(a.getByRole("button", { name: "Send" })).toBeDisabled();
  await box.press("Enter");
  await expect(a.locator(".msg")).toHaveCount(0);
  await box.fill("bell \u0007 rings");
  await expect(a.locator(".compose-note")).toContainText("control characters");
  await expect(a.getByRole("button", { name: "Send" })).toBeDisabled();
  await box.fill("x".repeat(4_000));
  await expect(a.locator(".compose-note")).toHaveText("0 left");
  await box.press("Enter");
  await expect(stored(a)).toHaveCount(1);
});

test.describe("strangers", () => {
  // The room's page answers 403 to someone not in it.
  test.use({ allowedErrors: [/the server responded with a status of 403/] });

  test("someone who is not in a room sees no composer there", async ({ browser }) => {
    const { bob, a } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    const url = a.url();
    const { page: c } = await cat(browser);
    await c.goto(url);
    await hydrated(c);
    await expect(c.getByRole("status").filter({ hasText: "not a member" })).toHaveText(
      "You are not a member of this room.",
    );
    await expect(c.getByLabel("Message", { exact: true })).toHaveCount(0);
  });
});

test("the room list shows each room's last message and time, newest first", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  const { handle: catHandle } = await cat(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "first line\nsecond line");
  await openDirect(a, catHandle, "Cat");
  await say(a, "to cat");
  await toList(a);
  const rooms = a.locator(".rooms .room");
  await expect(rooms.locator(".room-name")).toHaveText(["Cat", "Bob"]);
  await expect(rooms.nth(1).locator(".room-sub")).toHaveText("first line second line");
  await expect(rooms.nth(0).locator(".room-time")).toHaveText(/^\d\d:\d\d$/);
  await openRoom(b, "Alice");
  await say(b, "back to you");
  await toList(a);
  await expect(rooms.locator(".room-name")).toHaveText(["Bob", "Cat"]);
  await expect(rooms.nth(0).locator(".room-sub")).toHaveText("back to you");
});

test("the main screens have no serious accessibility violations", async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  await page.goto("/login");
  await hydrated(page);
  expect(await violations(page)).toEqual([]);
  const { handles, pages } = await threePeople(browser);
  const [ann] = pages;
  expect(await violations(ann)).toEqual([]);
  await openDirect(ann, handles[1], "BEN");
  await say(ann, "hello https://example.com");
  await expect(stored(ann)).toHaveCount(1);
  expect(await violations(ann)).toEqual([]);
  await newGroup(ann, "Access", handles.slice(1));
  expect(await violations(ann)).toEqual([]);
  await toList(ann);
  await ann.getByRole("button", { name: "New group" }).click();
  expect(await violations(ann)).toEqual([]);
});

test.describe("a panic in the app", () => {
  // The panic is provoked on purpose: its console lines are expected.
  test.use({ allowedErrors: [/panicked at|simulated crash|unreachable/] });

  test("covers the page with 'Something went wrong — reload', reports it, and the reload works", async ({
    browser,
  }) => {
    const { bob, a } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    const report = a.waitForRequest((r) => r.url().endsWith("/client-errors") && r.method() === "POST");
    await a.evaluate(async () => {
      const src = document.querySelector('link[rel="modulepreload"]')!.getAttribute("href")!;
      const app = await import(src);
      try {
        app.simulate_crash();
      } catch {
        // The WASM traps after the hook ran: the app is dead, as after a real panic.
      }
    });
    const alert = a.getByRole("alert").filter({ hasText: "Something went wrong" });
    await expect(alert).toContainText("Something went wrong — reload");
    const reload = alert.getByRole("link", { name: "Reload" });
    await expect(reload).toBeFocused();
    const sent = await report;
    expect(sent.postDataJSON().message).toContain("simulated crash");
    expect((await sent.response())?.status()).toBe(204);
    await reload.click();
    await hydrated(a);
    await expect(a.locator("#crash")).toHaveCount(0);
    await say(a, "alive again");
    await expect(stored(a)).toHaveCount(1);
  });
});
