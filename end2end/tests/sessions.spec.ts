import { expect, test } from "./fixtures";
import { cat, hydrated, logIn } from "./helpers";

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
