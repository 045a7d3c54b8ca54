// The page-load benchmark (run by scripts/bench.sh against a release build):
// a cold load of the log-in page in Debian's Chromium over loopback, with an
// empty cache each time. Prints the bytes that crossed the wire (compressed,
// as sent) by kind, and the time from navigation to the app being
// interactive (the hydration marker `body[data-hydrated]`), median of RUNS;
// then a room's first useful paint, cold and warm (the app kept it).
//   node bench/page.mjs http://127.0.0.1:PORT [RUNS]
import { createRequire } from "node:module";

const require = createRequire(new URL("../end2end/package.json", import.meta.url));
const { chromium } = require("@playwright/test");

const base = process.argv[2];
const runs = Number(process.argv[3] ?? 7);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

const kind = (url, mime) =>
  url.endsWith(".wasm") ? "wasm" : mime.includes("javascript") ? "js" : mime.includes("css") ? "css"
    : mime.includes("html") ? "html" : "other";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const loads = [];
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const seen = new Map();
  const bytes = {};
  cdp.on("Network.responseReceived", (e) => seen.set(e.requestId, kind(e.response.url, e.response.mimeType)));
  cdp.on("Network.loadingFinished", (e) => {
    const k = seen.get(e.requestId) ?? "other";
    bytes[k] = (bytes[k] ?? 0) + e.encodedDataLength;
  });
  const start = performance.now();
  await page.goto(`${base}/login`);
  await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
  const interactive = performance.now() - start;
  await page.waitForLoadState("networkidle");
  loads.push({ interactive, bytes });
  await context.close();
}

// The first useful paint of a room (its newest messages and the room list
// on screen), from navigation: cold (a device that never opened the app:
// nothing cached, nothing kept) and warm (a reload: the service worker's
// shell and bundle, the rooms kept in IndexedDB paint before the socket's
// `welcome`).
const stamp = Date.now();
const signUp = async (page, handle, name) => {
  await page.goto(`${base}/login`);
  await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
  await page.getByRole("tab", { name: "Sign up" }).click();
  await page.getByLabel("Handle").fill(handle);
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Password").fill("correct horse");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".me .handle").waitFor();
};
const owner = await (await browser.newContext()).newPage();
await signUp(owner, `paint_a${stamp}`, "Ann");
const reader = `paint_b${stamp}`;
await signUp(await (await browser.newContext()).newPage(), reader, "Ben");
await owner.getByRole("button", { name: "New message" }).click();
await owner.getByLabel("Handle of the person").fill(reader);
await owner.getByRole("button", { name: "Open conversation" }).click();
await owner.locator(".room-header h2").waitFor();
for (let i = 1; i <= 40; i++) {
  await owner.getByLabel("Message", { exact: true }).fill(`message ${i}`);
  await owner.getByLabel("Message", { exact: true }).press("Enter");
}
await owner.locator(".msg.mine[data-state=sent], .msg.mine[data-state=delivered]").nth(39).waitFor();
const room = owner.url();
const paint = async (page, load) => {
  const start = performance.now();
  await load();
  await page.locator(".timeline .msg .body", { hasText: "message 40" }).waitFor();
  await page.locator(".rooms .room").first().waitFor();
  return performance.now() - start;
};
const cold = [];
const warm = [];
for (let i = 0; i < runs; i++) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.locator("body[data-hydrated=true]").waitFor({ state: "attached" });
  await page.getByRole("tab", { name: "Log in" }).click();
  await page.getByLabel("Handle").fill(`paint_a${stamp}`);
  await page.getByLabel("Password").fill("correct horse");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".me .handle").waitFor();
  cold.push(await paint(page, () => page.goto(room)));
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForTimeout(1500); // the kept rows are written a second after a change
  warm.push(await paint(page, () => page.reload()));
  await context.close();
}
await browser.close();
console.log(`a room's first useful paint (loopback, median of ${runs}): cold ${median(cold).toFixed(0)} ms, warm ${median(warm).toFixed(0)} ms`);

const kinds = ["html", "js", "wasm", "css", "other"];
const row = (k) => median(loads.map((l) => l.bytes[k] ?? 0));
console.log(`page load (cold, loopback, median of ${runs}): interactive after ${median(loads.map((l) => l.interactive)).toFixed(0)} ms`);
for (const k of kinds) console.log(`  ${k.padEnd(6)} ${String(row(k)).padStart(9)} bytes`);
const bundle = row("js") + row("wasm") + row("css");
console.log(`  bundle (.wasm + .js + .css) ${bundle} bytes = ${(bundle / 1024).toFixed(0)} KiB; all ${kinds.reduce((s, k) => s + row(k), 0)} bytes`);
