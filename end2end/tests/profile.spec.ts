import { expect, test } from "./fixtures";
import { openDirect, say, toList, twoPeople } from "./helpers";

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
