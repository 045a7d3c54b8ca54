import { expect, test } from "./fixtures";
import { cat, hydrated, logIn, toList } from "./helpers";

test("a session ended from another device logs that browser out at once", async ({ browser }) => {
  const { handle, page: here } = await cat(browser);
  const there = await (await browser.newContext()).newPage();
  await logIn(there, handle);

  // "Log out all others", as the account screen asks it.
  const status = await here.evaluate(
    async () =>
      (await fetch("/api/end_other_sessions", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }))
        .status,
  );
  expect(status).toBe(200);
  await expect(there).toHaveURL(/\/login$/);
  await hydrated(there);
  await expect(there.getByRole("button", { name: "Log in" })).toBeVisible();
  // This browser stays in, live.
  await here.reload();
  await hydrated(here);
  await expect(here.locator(".me .handle")).toHaveText(`@${handle}`);
});

test("logging out in one tab logs the browser's other tabs out", async ({ browser }) => {
  const { handle, page } = await cat(browser);
  const other = await page.context().newPage();
  await other.goto("/");
  await hydrated(other);
  await expect(other.locator(".me .handle")).toHaveText(`@${handle}`);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(other).toHaveURL(/\/login$/);
  await hydrated(other);
});

test("the settings screen lists my sessions and logs out all others", async ({ browser }) => {
  const { handle, page: here } = await cat(browser);
  const there = await (await browser.newContext()).newPage();
  await logIn(there, handle);

  await toList(here);
  await here.getByRole("link", { name: "Settings" }).click();
  await expect(here.locator(".room-header h2")).toHaveText("Settings");
  const sessions = here.locator(".session");
  await expect(sessions).toHaveCount(2);
  await expect(here.locator(".session.current")).toContainText("this device");
  // By keyboard, as everything here.
  await here.getByRole("button", { name: "Log out all other sessions" }).focus();
  await here.keyboard.press("Enter");
  await expect(here.getByText("Every other session was logged out.")).toBeVisible();
  await expect(sessions).toHaveCount(1);
  await expect(there).toHaveURL(/\/login$/);
  await hydrated(there);
});
