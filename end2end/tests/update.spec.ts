import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { hydrated, signUp, uniqueHandle } from "./helpers";

// A new deployment while the app is open: the service worker installs the
// new build in the background, the page offers "Reload", and after it the
// page, the shell kept for offline and the bundle are all the new build's.
// The test runs a deployment of its own (the release server with a copy of
// the site), so shipping a build to it touches no other test.

// scripts/test.sh names both; by hand, the scripts' build directory and this clone's site.
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache", "chat", "target");
const bin = process.env.CHAT_BIN ?? path.join(targetDir, "release", "chat");
const site = process.env.SITE_ROOT ?? path.resolve("..", "target", "site");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

type Deployment = { url: string; dir: string; server: ChildProcess };

async function deploy(): Promise<Deployment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-update-"));
  fs.cpSync(site, path.join(dir, "site"), { recursive: true });
  fs.copyFileSync(path.join(path.dirname(bin), "hash.txt"), path.join(dir, "hash.txt"));
  const port = await freePort();
  const server = spawn(bin, [], {
    env: {
      ...process.env,
      CHAT_BIND: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${dir}/chat.db`,
      LEPTOS_SITE_ROOT: path.join(dir, "site"),
      LEPTOS_HASH_FILE_NAME: path.join(dir, "hash.txt"),
      CHAT_LOG: "warn",
    },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await expect.poll(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok ?? false).toBe(true);
  return { url, dir, server };
}

/** Ships a new build: the bundle under new names (its stylesheet changed), and the hash file naming them. */
function ship(d: Deployment) {
  const hashFile = path.join(d.dir, "hash.txt");
  const pkg = path.join(d.dir, "site", "pkg");
  const lines = fs.readFileSync(hashFile, "utf8").trim().split("\n");
  const next = lines.map((line) => {
    const [kind, hash] = line.split(":").map((s) => s.trim());
    const fresh = `${hash.slice(0, -4)}next`;
    for (const tail of kind === "css" ? [""] : ["", ".br", ".gz"]) {
      fs.copyFileSync(path.join(pkg, `chat.${hash}.${kind}${tail}`), path.join(pkg, `chat.${fresh}.${kind}${tail}`));
    }
    if (kind === "css") fs.appendFileSync(path.join(pkg, `chat.${fresh}.css`), "\n/* the next build */\n");
    return `${kind}: ${fresh}`;
  });
  fs.writeFileSync(hashFile, `${next.join("\n")}\n`);
}

const stylesheet = (page: Page) => page.locator("link#leptos").getAttribute("href");

test.describe(() => {
  // The offline reload at the end: the browser reports the API and socket calls it cannot make.
  test.use({ allowedErrors: [/ERR_INTERNET_DISCONNECTED/] });

  test("a new deployment offers 'Reload', and then page, shell and bundle are all the new build", async ({ browser }) => {
    const d = await deploy();
    const ctx = await browser.newContext({ baseURL: d.url });
    try {
      const page = await ctx.newPage();
      const handle = uniqueHandle("dee");
      await signUp(page, handle, "Dee");
      await page.evaluate(() => navigator.serviceWorker.ready);
      await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
      const before = await stylesheet(page);
      await expect(page.locator(".update")).toHaveCount(0);

      ship(d);
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
      const prompt = page.locator(".update");
      await expect(prompt).toContainText("A new version is available");
      await prompt.getByRole("button", { name: "Reload" }).focus();
      await page.keyboard.press("Enter");
      await expect.poll(() => stylesheet(page)).toMatch(/next\.css$/);
      await hydrated(page);
      await expect(page.locator(".me .handle")).toHaveText(`@${handle}`);
      await expect(page.locator(".update")).toHaveCount(0);
      // One build kept: the new one.
      const kept = await page.evaluate(() => caches.keys());
      expect(kept).toHaveLength(1);
      expect(kept[0]).toContain("next");
      expect(await stylesheet(page)).not.toBe(before);

      // Offline, the kept shell is the new build's too.
      await ctx.setOffline(true);
      await page.reload();
      await hydrated(page);
      await expect(page.locator("body")).toHaveAttribute("data-shell", "true");
      expect(await stylesheet(page)).toMatch(/next\.css$/);
      await expect(page.locator(".me .handle")).toHaveText(`@${handle}`);
      await ctx.setOffline(false);
    } finally {
      // The page first: its socket would complain of the server gone.
      await ctx.close();
      d.server.kill();
      fs.rmSync(d.dir, { recursive: true, force: true });
    }
  });
});
