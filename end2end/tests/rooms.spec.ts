import { test, expect } from "@playwright/test";
import { hydrated, openDirect, signUp, twoPeople, uniqueHandle } from "./helpers";

test("two people: a DM by handle and a group, seen by the other after a reload", async ({ browser }) => {
  const { alice, bob, a, b } = await twoPeople(browser);
  await expect(b.locator(".rooms")).toContainText("No conversations yet.");

  // A opens a DM with B by handle.
  await openDirect(a, bob, "Bob");
  await expect(a).toHaveURL(/\/r\/\d+$/);
  await expect(a.locator(".rooms .room")).toHaveCount(1);

  // A creates a group with B.
  await a.getByRole("button", { name: "New group" }).click();
  await a.getByLabel("Group name").fill("Weekend trip");
  await a.getByLabel("Members").fill(`@${bob}`);
  await a.getByRole("button", { name: "Create group" }).click();
  await expect(a.locator(".room-header h2")).toHaveText("Weekend trip");
  await expect(a.locator(".room-header .members")).toContainText(`@${bob}`);
  await expect(a.locator(".rooms .room")).toHaveCount(2);

  // B reloads and sees both rooms.
  await b.reload();
  await hydrated(b);
  await expect(b.locator(".rooms .room")).toHaveCount(2);
  await expect(b.locator(".rooms")).toContainText("Alice");
  await expect(b.locator(".rooms")).toContainText("Weekend trip");
  await b.locator(".rooms .room", { hasText: "Weekend trip" }).locator("a").click();
  await expect(b.locator(".room-header .members")).toContainText(`@${alice}`);

  // Opening the DM again from B's side lands in the same room.
  await openDirect(b, alice, "Alice");
  await expect(b.locator(".rooms .room")).toHaveCount(2);
});

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

test("the main page asks for a log-in without a session", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByRole("button", { name: "Log in" })).toBeVisible();
});
