import { Browser, BrowserContext, Page } from "@playwright/test";
import { expect } from "./fixtures";

let counter = 0;
/** A handle no earlier run used: letter first, [a-z0-9_], at most 32
 * characters. Its tail is decimal: no two such handles look alike to the
 * server's look-alike check (0 and o, 1 and l, rn and m). */
export function uniqueHandle(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now()}${counter}`;
}

/** Clicks do nothing before the WASM has taken over the page. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

export async function signUp(page: Page, handle: string, displayName: string, password = "correct horse") {
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

/** Whether the page is laid out for a phone: the room list and a room take turns. */
export async function isPhone(page: Page) {
  return (page.viewportSize()?.width ?? 1280) <= 720;
}

/** Shows the room list: on a phone, leaves the open room with its back link. */
export async function toList(page: Page) {
  const back = page.locator(".room-header .back");
  if ((await isPhone(page)) && (await back.isVisible())) {
    await back.click();
    await expect(page.locator(".sidebar")).toBeVisible();
  }
}

/** Opens (or creates) the direct conversation with `handle`, whose display name is `name`. */
export async function openDirect(page: Page, handle: string, name: string) {
  await toList(page);
  await page.getByRole("button", { name: "New message" }).click();
  await page.getByLabel("Handle of the person").fill(handle);
  await page.getByRole("button", { name: "Open conversation" }).click();
  await expect(page.locator(".room-header h2")).toHaveText(name);
}

/** Cat, signed up in a browser context of her own: her handle and page. */
export async function cat(browser: Browser) {
  const handle = uniqueHandle("cat");
  const page = await (await browser.newContext()).newPage();
  await signUp(page, handle, "Cat");
  return { handle, page };
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
  await toList(page);
  await page.locator(".rooms .room", { hasText: name }).locator("a").click();
  await expect(page.locator(".room-header h2")).toHaveText(name);
}

export async function say(page: Page, text: string) {
  const box = page.getByLabel("Message", { exact: true });
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

/** Ann, Ben and Cat (display names ANN, BEN, CAT) signed up in three browser contexts. */
export async function threePeople(browser: Browser) {
  const handles = ["ann", "ben", "cat"].map(uniqueHandle);
  const pages = await Promise.all(handles.map(async () => (await browser.newContext()).newPage()));
  for (let i = 0; i < 3; i++) await signUp(pages[i], handles[i], handles[i].split("_")[0].toUpperCase());
  return { handles, pages };
}

/** Ann, Ben and Cat, and a group `name` of the three that Ann made. */
export async function threeInAGroup(browser: Browser, name: string) {
  const { handles, pages } = await threePeople(browser);
  await newGroup(pages[0], name, handles.slice(1));
  return pages;
}

/** Creates the group `name` with the people `handles` and opens it. */
export async function newGroup(page: Page, name: string, handles: string[]) {
  await toList(page);
  await page.getByRole("button", { name: "New group" }).click();
  await page.getByLabel("Group name").fill(name);
  await page.getByLabel("Members").fill(handles.join(", "));
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.locator(".room-header h2")).toHaveText(name);
}

/**
 * Sends `n` messages ("filler 1", "filler 2", …) to the room open on `page`
 * through sockets of its own (the same session), waiting for each ack and
 * sending again what the rate limit refused. With one socket they are
 * stored in order; with more (each has its own send allowance) they go
 * faster, their order mixed.
 */
export async function flood(page: Page, n: number, sockets = 1) {
  const room = Number(new URL(page.url()).pathname.split("/").pop());
  await page.evaluate(
    async ({ room, n, sockets }) => {
      const share = Math.ceil(n / sockets);
      const one = async (from: number, to: number) => {
        const ws = new WebSocket(`${location.origin.replace("http", "ws")}/ws`);
        await new Promise((ok) => (ws.onopen = ok));
        for (let i = from; i <= to; i++) {
          const cid = crypto.randomUUID();
          for (;;) {
            const answer = new Promise<any>((ok) => {
              ws.onmessage = (e) => {
                const f = JSON.parse(e.data);
                if (f.cid === cid) ok(f);
              };
            });
            ws.send(JSON.stringify({ t: "send", room, cid, body: `filler ${i}` }));
            const f = await answer;
            if (f.t === "ack") break;
            await new Promise((ok) => setTimeout(ok, 200));
          }
        }
        ws.close();
      };
      const runs = [];
      for (let s = 0; s < sockets; s++) runs.push(one(s * share + 1, Math.min(n, (s + 1) * share)));
      await Promise.all(runs);
    },
    { room, n, sockets },
  );
}

/** A PNG of `w`×`h` drawn in the page: left half red, right half blue. */
export async function drawnPng(page: Page, w: number, h: number): Promise<Buffer> {
  const bytes = await page.evaluate(
    async ([w, h]) => {
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const g = canvas.getContext("2d")!;
      g.fillStyle = "#d00";
      g.fillRect(0, 0, w / 2, h);
      g.fillStyle = "#00d";
      g.fillRect(w / 2, 0, w / 2, h);
      const blob: Blob = await new Promise((ok) => canvas.toBlob((b) => ok(b!), "image/png"));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    },
    [w, h],
  );
  return Buffer.from(bytes);
}
