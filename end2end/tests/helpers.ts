import { Browser, BrowserContext, expect, Page, test } from "@playwright/test";

/** Script errors (a WASM panic among them) on any page of the running test. */
const pageErrors: string[] = [];

/** Browser contexts of the running test: closed after it, so pages of
 * earlier tests (sockets, timers) do not pile up and slow the later ones. */
const contexts = new Set<BrowserContext>();

/** A page that panics stops reacting: fail the test that saw it, saying why. */
export function trackErrors(page: Page) {
  contexts.add(page.context());
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && m.text().includes("panicked")) pageErrors.push(`${page.url()}: ${m.text()}`);
  });
}

test.afterEach(async () => {
  const seen = pageErrors.splice(0);
  for (const context of contexts) await context.close().catch(() => {});
  contexts.clear();
  expect(seen, "no script errors or panics in the pages").toEqual([]);
});

let counter = 0;
/** A handle no earlier run used: letter first, [a-z0-9_], at most 32 characters. */
export function uniqueHandle(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}${counter}`;
}

/** Clicks do nothing before the WASM has taken over the page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

export async function signUp(page: Page, handle: string, displayName: string, password = "correct horse") {
  trackErrors(page);
  await page.goto("/login");
  await hydrated(page);
  await page.getByRole("tab", { name: "Sign up" }).click();
  await page.getByLabel("Handle").fill(handle);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator(".me .handle")).toHaveText(`@${handle}`);
  await hydrated(page);
}

/** Opens (or creates) the direct conversation with `handle`, whose display name is `name`. */
export async function openDirect(page: Page, handle: string, name: string) {
  await page.getByRole("button", { name: "New message" }).click();
  await page.getByLabel("Handle of the person").fill(handle);
  await page.getByRole("button", { name: "Open conversation" }).click();
  await expect(page.locator(".room-header h2")).toHaveText(name);
}

/** Alice and Bob, signed up in two browser contexts. */
export async function twoPeople(browser: Browser) {
  const alice = uniqueHandle("alice");
  const bob = uniqueHandle("bob");
  const actx: BrowserContext = await browser.newContext();
  const bctx: BrowserContext = await browser.newContext();
  const a = await actx.newPage();
  const b = await bctx.newPage();
  await signUp(a, alice, "Alice");
  await signUp(b, bob, "Bob");
  return { alice, bob, actx, bctx, a, b };
}

export async function logIn(page: Page, handle: string, password = "correct horse") {
  trackErrors(page);
  await page.goto("/login");
  await hydrated(page);
  await page.getByRole("tab", { name: "Log in" }).click();
  await page.getByLabel("Handle").fill(handle);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.locator(".me .handle")).toHaveText(`@${handle}`);
  await hydrated(page);
}

export async function openRoom(page: Page, name: string) {
  await page.locator(".rooms .room", { hasText: name }).locator("a").click();
  await expect(page.locator(".room-header h2")).toHaveText(name);
}

export async function say(page: Page, text: string) {
  const box = page.getByLabel("Message");
  await box.fill(text);
  await box.press("Enter");
}

export function bodies(page: Page) {
  return page.locator(".timeline .msg .body");
}

/** My messages the server acknowledged (✓, ✓✓ or blue ✓✓). */
export function stored(page: Page) {
  return page.locator(".msg.mine:is([data-state=sent], [data-state=delivered], [data-state=read])");
}

/** Ann, Ben and Cat in three browser contexts, and a group `name` of the three that Ann made. */
export async function threeInAGroup(browser: Browser, name: string) {
  const names = ["ann", "ben", "cat"].map(uniqueHandle);
  const pages = await Promise.all(names.map(async () => (await browser.newContext()).newPage()));
  for (let i = 0; i < 3; i++) await signUp(pages[i], names[i], names[i].split("_")[0].toUpperCase());
  const [ann] = pages;
  await ann.getByRole("button", { name: "New group" }).click();
  await ann.getByLabel("Group name").fill(name);
  await ann.getByLabel("Members").fill(`${names[1]}, ${names[2]}`);
  await ann.getByRole("button", { name: "Create group" }).click();
  await expect(ann.locator(".room-header h2")).toHaveText(name);
  return pages;
}
