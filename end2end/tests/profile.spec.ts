import { expect, test } from "./fixtures";
import { drawnPng, openDirect, say, toList, twoPeople } from "./helpers";

test("a new name and picture show in the other person's window at once", async ({ browser }) => {
  const { alice, bob, a, b } = await twoPeople(browser);
  await openDirect(b, alice, "Alice");
  await toList(b);
  const theirs = b.locator(".rooms .room", { hasText: "Alice" }).locator(".avatar");
  await expect(theirs).toHaveText("A");
  await expect(theirs.locator("img")).toHaveCount(0);

  await a.getByRole("link", { name: "Settings" }).click();
  await a.getByLabel("Display name").fill("Alba");
  await a.getByRole("button", { name: "Save profile" }).click();
  await expect(a.getByText("Saved: the people you talk with see it now.")).toBeVisible();
  // The picture: chosen from a file, by keyboard (the button opens the picker).
  const chooser = a.waitForEvent("filechooser");
  await a.getByRole("button", { name: "Choose a picture" }).focus();
  await a.keyboard.press("Enter");
  await (await chooser).setFiles({ name: "me.png", mimeType: "image/png", buffer: await drawnPng(a, 300, 200) });
  await expect(a.getByText("Picture saved.")).toBeVisible();
  const mine = a.locator(".settings .picture-row .avatar img");
  await expect(mine).toBeVisible();
  await expect(a.locator(".me .avatar img")).toHaveCount(1);

  // Bob's list follows without a reload: her new name and her picture, square.
  const room = b.locator(".rooms .room", { hasText: "Alba" });
  await expect(room).toHaveCount(1);
  const img = room.locator(".avatar img");
  await expect(img).toBeVisible();
  const size = await img.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight]);
  expect(size).toEqual([256, 256]);
  await room.getByRole("link").click();
  await expect(b.locator(".room-header .avatar img")).toBeVisible();

  // Removed: her initial again, on both sides.
  await a.getByRole("button", { name: "Remove picture" }).click();
  await expect(a.getByText("Picture removed.")).toBeVisible();
  await expect(b.locator(".room-header .avatar img")).toHaveCount(0);
  await expect(b.locator(".room-header .avatar")).toHaveText("A");
});

test("a new name and status show in the other person's window at once", async ({ browser }) => {
  const { alice, bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await say(a, "hi Bob");
  await openDirect(b, alice, "Alice");
  await expect(b.locator(".timeline .msg .body")).toHaveText(["hi Bob"]);

  await toList(a);
  await a.getByRole("link", { name: "Settings" }).click();
  const name = a.getByLabel("Display name");
  await expect(name).toHaveValue("Alice");
  await name.fill("Alicia");
  await a.getByLabel("Status").fill("Travelling");
  await a.getByLabel("Status").press("Enter");
  await expect(a.getByText("Saved: the people you talk with see it now.")).toBeVisible();
  await expect(a.locator(".me .who strong")).toHaveText("Alicia");

  // Bob's open conversation follows, without a reload.
  await expect(b.locator(".room-header h2")).toHaveText("Alicia");
  await expect(b.locator(".room-header .status-line")).toHaveText("Travelling");
  await expect(b.locator(".timeline .note")).toHaveText(["Alice changed their name to Alicia"]);
  await expect(b.locator(".timeline .msg .from").first()).toHaveText("Alicia");
  await toList(b);
  await expect(b.locator(".rooms .room", { hasText: "Alicia" })).toHaveCount(1);
});

test("the theme follows the choice on this device", async ({ browser }) => {
  const { a } = await twoPeople(browser);
  await toList(a);
  await a.getByRole("link", { name: "Settings" }).click();
  await a.getByLabel("Dark").check();
  await expect(a.locator("html")).toHaveAttribute("data-theme", "dark");
  await a.reload();
  await expect(a.locator("html")).toHaveAttribute("data-theme", "dark");
  await a.getByLabel("Follow the system").check();
  await expect(a.locator("html")).not.toHaveAttribute("data-theme", /./);
});

test("the directory finds a person whatever the case and starts a chat with them", async ({ browser }) => {
  const { bob, a } = await twoPeople(browser);
  await toList(a);
  await a.getByRole("button", { name: "New message" }).click();
  // Case does not matter. (The whole handle: earlier runs left many "bob_…"
  // in this database, and a page lists the first 20 by id.)
  await a.getByLabel("Handle of the person").fill(bob.toUpperCase());
  const found = a.getByRole("list", { name: "People found" });
  const start = found.getByRole("button", { name: new RegExp(`Start a chat with Bob \\(@${bob}\\)`) });
  await expect(start).toBeVisible();
  await start.focus();
  await a.keyboard.press("Enter");
  await expect(a.locator(".room-header h2")).toHaveText("Bob");
});

test.describe("deleting one's account", () => {
  // The wrong password is answered 400, which the browser logs.
  test.use({ allowedErrors: [/status of 400 \(Bad Request\)/] });

  test("logs out and leaves the other with a read-only conversation", async ({ browser }) => {
    const { alice, bob, a, b } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    await say(a, "last words");
    await openDirect(b, alice, "Alice");
    await expect(b.locator(".timeline .msg .body")).toHaveText(["last words"]);

    await toList(a);
    await a.getByRole("link", { name: "Settings" }).click();
    const password = a.getByLabel("Your password");
    await password.fill("wrong password");
    await a.getByRole("button", { name: "Delete my account" }).click();
    await a.getByRole("button", { name: "Really delete my account?" }).click();
    await expect(a.getByRole("alert").filter({ hasText: "not right" })).toBeVisible();
    await password.fill("correct horse");
    await password.press("Enter");
    await a.getByRole("button", { name: "Really delete my account?" }).press("Enter");
    await expect(a).toHaveURL(/\/login$/);

    // Bob's window follows: the name, the line, her message kept, no composer.
    await expect(b.locator(".room-header h2")).toHaveText("Deleted account");
    await expect(b.locator(".timeline .note")).toHaveText(["Alice deleted their account"]);
    await expect(b.locator(".timeline .msg .body")).toHaveText(["last words"]);
    await expect(b.getByText("This account was deleted: what you had stays here to read.")).toBeVisible();
    await expect(b.getByRole("textbox", { name: /message/i })).toHaveCount(0);
  });
});
