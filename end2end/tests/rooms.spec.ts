import { expect, test } from "./fixtures";
import { bodies, hydrated, isPhone, newGroup, openDirect, openRoom, say, signUp, threePeople, twoPeople, uniqueHandle } from "./helpers";

test("two people: a DM by handle and a group, seen by the other after a reload", async ({ browser }) => {
  const { alice, bob, a, b } = await twoPeople(browser);
  await expect(b.locator(".rooms")).toContainText("No conversations yet.");

  // A opens a DM with B by handle.
  await openDirect(a, bob, "Bob");
  await expect(a).toHaveURL(/\/r\/\d+$/);
  await expect(a.locator(".rooms .room")).toHaveCount(1);

  // A creates a group with B.
  await newGroup(a, "Weekend trip", [`@${bob}`]);
  await expect(a.locator(".room-header .members")).toContainText(`@${bob}`);
  await expect(a.locator(".rooms .room")).toHaveCount(2);

  // B reloads and sees both rooms.
  await b.reload();
  await hydrated(b);
  await expect(b.locator(".rooms .room")).toHaveCount(2);
  await expect(b.locator(".rooms")).toContainText("Alice");
  await expect(b.locator(".rooms")).toContainText("Weekend trip");
  await openRoom(b, "Weekend trip");
  await expect(b.locator(".room-header .members")).toContainText(`@${alice}`);

  // Opening the DM again from B's side lands in the same room.
  await openDirect(b, alice, "Alice");
  await expect(b.locator(".rooms .room")).toHaveCount(2);
});

test.describe("refusals", () => {
  // The API answers these with 4xx statuses, which the browser logs.
  test.use({ allowedErrors: [/the server responded with a status of (400|401|404|409)/] });

  test("bad input gets a clear message", async ({ page }) => {
    const carol = uniqueHandle("carol");
    await signUp(page, carol, "Carol");

    await page.getByRole("button", { name: "New message" }).click();
    await page.getByLabel("Handle of the person").fill("nobody_" + carol.slice(-8));
    await page.getByRole("button", { name: "Open conversation" }).click();
    await expect(page.locator(".modal .error")).toContainText("No one has the handle");
    await page.keyboard.press("Escape");
    await expect(page.locator(".modal")).toHaveCount(0);

    // Log out, then a wrong password and a taken handle.
    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await hydrated(page);
    await page.getByLabel("Handle").fill(carol);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.locator(".auth .error")).toHaveText("Wrong handle or password.");

    await page.getByRole("tab", { name: "Sign up" }).click();
    await page.getByLabel("Password").fill("correct horse");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.locator(".auth .error")).toContainText("is taken");

    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.locator(".auth .error")).toContainText("at least 8 characters");
  });
});

test("the main page asks for a log-in without a session", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByRole("button", { name: "Log in" })).toBeVisible();
});

test("the walk-through: three people, a DM and a group, thirty quick switches while messages arrive, offline and back", async ({
  browser,
}) => {
  const { handles, pages } = await threePeople(browser);
  const [ann, ben, cat] = pages;
  await openDirect(ann, handles[1], "BEN");
  await newGroup(ann, "Switchers", handles.slice(1));
  await openRoom(ben, "ANN");
  await openRoom(cat, "Switchers");

  // Ben and Cat keep writing while Ann switches back and forth.
  let writing = true;
  const chatter = (async () => {
    for (let i = 1; writing; i++) {
      await say(ben, `dm ${i}`);
      await say(cat, `group ${i}`);
      await ben.waitForTimeout(100);
    }
  })();
  const phone = await isPhone(ann);
  const rooms = ann.locator(".rooms .room");
  for (let i = 0; i < 30; i++) {
    const name = i % 2 === 0 ? "BEN" : "Switchers";
    if (phone) await ann.locator(".room-header .back").click();
    // No waiting for the room to settle: as fast as a person can click.
    await rooms.filter({ hasText: name }).locator("a").click();
  }
  writing = false;
  await chatter;

  // Still alive: the last room shows, takes a message and shows the others'.
  await expect(ann.locator(".room-header h2")).toHaveText("Switchers");
  await say(ann, "still here");
  await expect(ann.locator(".msg.mine").last()).toHaveAttribute("data-state", /^(sent|delivered|read)$/);
  await expect(bodies(cat).last()).toHaveText("still here");
  await openRoom(ann, "BEN");
  await expect(bodies(ann).last()).toHaveText(await bodies(ben).last().innerText());

  // Offline and back: what was sent meanwhile arrives once. (Opening another
  // room while offline asks the server for its members over HTTP, which the
  // browser logs as a failed request: the offline-first work takes that on.)
  await ann.context().setOffline(true);
  await expect(ann.locator(".banner")).toHaveText("Reconnecting…");
  await say(cat, "while you were away");
  await ann.context().setOffline(false);
  await expect(ann.locator(".banner")).toHaveText("Back online");
  await openRoom(ann, "Switchers");
  await expect(bodies(ann).filter({ hasText: "while you were away" })).toHaveCount(1);
  await expect(ann.locator("#crash")).toHaveCount(0);
});
