// The page-load benchmark (run by scripts/bench.sh against a release build):
// a cold load of the log-in page in Debian's Chromium over loopback, with an
// empty cache each time. Prints the bytes that crossed the wire (compressed,
// as sent) by kind, and the time from navigation to the app being
// interactive (the hydration marker `body[data-hydrated]`), median of RUNS.
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
await browser.close();

const kinds = ["html", "js", "wasm", "css", "other"];
const row = (k) => median(loads.map((l) => l.bytes[k] ?? 0));
console.log(`page load (cold, loopback, median of ${runs}): interactive after ${median(loads.map((l) => l.interactive)).toFixed(0)} ms`);
for (const k of kinds) console.log(`  ${k.padEnd(6)} ${String(row(k)).padStart(9)} bytes`);
const bundle = row("js") + row("wasm") + row("css");
console.log(`  bundle (.wasm + .js + .css) ${bundle} bytes = ${(bundle / 1024).toFixed(0)} KiB; all ${kinds.reduce((s, k) => s + row(k), 0)} bytes`);
