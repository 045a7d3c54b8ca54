import { expect, test } from "./fixtures";
import { bodies, cat, hydrated, openDirect, say, signUp } from "./helpers";

// The Content-Security-Policy in Chromium. That every screen works under it
// is proven by every test: the shared fixture fails on any violation.

test("pages are served with a strict policy and hydrate under it", async ({ page, browser }) => {
  const res = await page.goto("/login");
  const policy = res?.headers()["content-security-policy"] ?? "";
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{22,}' 'wasm-unsafe-eval'/);
  expect(policy).not.toContain("unsafe-inline");
  await hydrated(page);
  // The app at work under it: signed up, a conversation, a message there and back.
  const { handle, page: c } = await cat(browser);
  await signUp(page, `${handle}_b`, "Ben");
  await openDirect(page, handle, "Cat");
  await say(page, "under the policy");
  await openDirect(c, `${handle}_b`, "Ben");
  await expect(bodies(c)).toHaveText(["under the policy"]);
});

test.describe("what the policy blocks", () => {
  test.use({ allowedErrors: [/Content Security Policy|CSP violation/] });

  // (Whether `eval` runs cannot be tried from here: Playwright's own
  // evaluation is exempt from the policy. The HTTP tests check that the
  // policy never allows it.)
  test("an inline script or handler put into the page does not run", async ({ page }) => {
    await page.goto("/login");
    await hydrated(page);
    const reports = async () => {
      const metrics = await (await page.request.get("/metrics")).text();
      return Number(/chat_browser_reports_total\{kind="csp"\} (\d+)/.exec(metrics)?.[1]);
    };
    const before = await reports();
    const outcome = await page.evaluate(async () => {
      const w = window as unknown as { pwned?: number; pwned2?: number };
      const seen: string[] = [];
      document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective));
      const script = document.createElement("script");
      script.textContent = "window.pwned = 1";
      document.body.append(script);
      const div = document.createElement("div");
      div.innerHTML = `<img src="data:image/png;base64,AAAA" onerror="window.pwned2 = 1">`;
      document.body.append(div);
      await new Promise((r) => setTimeout(r, 300));
      return { pwned: w.pwned, pwned2: w.pwned2, seen };
    });
    expect(outcome.pwned).toBeUndefined();
    expect(outcome.pwned2).toBeUndefined();
    expect(outcome.seen).toEqual(expect.arrayContaining(["script-src-elem", "script-src-attr"]));
    // The browser reported both to the server, so a bad deploy is seen.
    await expect.poll(reports).toBeGreaterThanOrEqual(before + 2);
    // The app itself still works.
    await page.getByRole("tab", { name: "Sign up" }).click();
    await expect(page.getByRole("button", { name: "Create account" })).toBeVisible();
  });
});

test.describe("framing", () => {
  test.use({ allowedErrors: [/frame-ancestors|Refused to (display|frame)|X-Frame-Options/] });

  test("a page on another origin cannot frame the app", async ({ page, baseURL }) => {
    // A page of another site (served by the browser's own routing), framing the app.
    await page.route("http://framer.test/", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><title>framer</title>
          <iframe src="${baseURL}/login" onload="document.title = 'loaded'"></iframe>`,
      }),
    );
    await page.goto("http://framer.test/");
    await expect(page).toHaveTitle("loaded");
    const inner = page.frames().find((f) => f !== page.mainFrame());
    expect(inner, "the iframe exists").toBeTruthy();
    // Chromium replaced the app by its error page: nothing of the app is there.
    expect(inner!.url()).not.toContain("/login");
    await expect(page.frameLocator("iframe").locator("body[data-hydrated], form")).toHaveCount(0);
  });
});
