import { expect, test } from "./fixtures";
import { bodies, openDirect, openRoom, say, twoPeople } from "./helpers";

test("a message that looks like HTML shows as text and runs nothing", async ({ browser }) => {
  const { bob, a, b } = await twoPeople(browser);
  const dialogs: string[] = [];
  for (const page of [a, b]) page.on("dialog", (d) => { dialogs.push(d.message()); void d.dismiss(); });
  const evil = [
    `<img src=x onerror=alert(1)>`,
    `<script>window.pwned = 1</script>`,
    `"><svg onload=alert(2)>`,
  ];
  await openDirect(a, bob, "Bob");
  for (const text of evil) await say(a, text);
  await openRoom(b, "Alice");
  await expect(bodies(b)).toHaveText(evil);
  await expect(bodies(a)).toHaveText(evil);
  for (const page of [a, b]) {
    await expect(page.locator(".timeline img, .timeline script, .timeline svg, .rooms img, .rooms svg")).toHaveCount(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
  }
  // After a reload the server renders them: still text.
  await b.reload();
  await expect(bodies(b)).toHaveText(evil);
  await expect(b.locator(".timeline img, .timeline script, .timeline svg, .rooms img, .rooms svg")).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test("the bundle is served compressed, by content-hashed name, kept for a year; pages are not cached", async ({
  request,
}) => {
  const page = await request.get("/login");
  expect(page.headers()["cache-control"]).toBe("no-cache");
  const html = await page.text();
  const bundle = [...html.matchAll(/href="(\/pkg\/[^"]+\.(?:js|wasm|css))"/g)].map((m) => m[1]);
  expect(bundle).toHaveLength(3);
  for (const path of bundle) {
    expect(path, "a content hash in the name").toMatch(/\/chat\.[A-Za-z0-9_-]{20,}\.(js|wasm|css)$/);
    for (const [accept, encoding] of [
      ["br, gzip", "br"],
      ["gzip", "gzip"],
    ]) {
      const res = await request.get(path, { headers: { "accept-encoding": accept } });
      expect(res.status()).toBe(200);
      expect(res.headers()["content-encoding"], `${path} for ${accept}`).toBe(encoding);
      expect(res.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(res.headers()["vary"]).toBe("accept-encoding");
    }
  }
  const worker = await request.get("/sw.js");
  expect(worker.headers()["cache-control"]).toBe("no-cache");
});
