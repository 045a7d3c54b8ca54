import { BrowserContext, expect, test as base } from "@playwright/test";

/**
 * The one fixture every spec uses (import `test` and `expect` from here):
 * any uncaught script error or console error on any page of any browser
 * context the test opens fails the test, saying which page and what. A WASM
 * panic is both. So is anything the Content-Security-Policy blocks: every
 * page reports its `securitypolicyviolation` events as console errors, so
 * every test also proves the app works under the policy. A test that
 * provokes an error on purpose names it with
 * `test.use({ allowedErrors: [/…/] })`.
 *
 * Contexts the test opened are closed after it, so pages of earlier tests
 * (sockets, timers) do not pile up and slow the later ones.
 */
type Fixtures = { allowedErrors: RegExp[]; watchErrors: void };

export const test = base.extend<Fixtures>({
  allowedErrors: [[], { option: true }],
  watchErrors: [
    async ({ browser, context, allowedErrors }, use) => {
      const errors: string[] = [];
      const opened: BrowserContext[] = [];
      const watch = async (ctx: BrowserContext) => {
        await ctx.addInitScript(() =>
          document.addEventListener("securitypolicyviolation", (e) =>
            console.error(
              `CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`,
            ),
          ),
        );
        ctx.on("weberror", (e) => errors.push(`${e.page()?.url() ?? "?"}: uncaught ${e.error().message}`));
        ctx.on("console", (m) => {
          if (m.type() !== "error") return;
          const text = m.text();
          if (!allowedErrors.some((r) => r.test(text))) errors.push(`${m.page()?.url() ?? "?"}: console: ${text}`);
        });
      };
      await watch(context);
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (options) => {
        // The runner gives contexts made here the project's options (phone or desktop).
        const ctx = await newContext(options);
        await watch(ctx);
        opened.push(ctx);
        return ctx;
      };
      await use();
      browser.newContext = newContext;
      for (const ctx of opened) await ctx.close().catch(() => {});
      expect(errors, "no script or console errors in the pages").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
