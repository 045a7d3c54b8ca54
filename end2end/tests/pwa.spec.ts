import { expect, test } from "./fixtures";

// What browsers check before they offer to install the app (Lighthouse's
// installability list): a linked manifest with a name, a start URL in its
// scope, standalone display, colours, and PNG icons of 192 and 512 pixels
// (one of them maskable) that really are those sizes; and the icon iOS uses.
test("the app is installable: its manifest and icons are what browsers ask for", async ({ page }) => {
  await page.goto("/login");
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  expect(href).toBe("/manifest.webmanifest");
  const res = await page.request.get(href!);
  expect(res.ok()).toBe(true);
  const manifest = await res.json();
  expect(manifest.name).toBeTruthy();
  expect(manifest.short_name).toBeTruthy();
  expect(manifest.display).toBe("standalone");
  expect(manifest.start_url).toBe("/");
  expect(manifest.scope).toBe("/");
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/);
  expect(manifest.background_color).toMatch(/^#[0-9a-f]{6}$/);
  await expect(page.locator('meta[name="theme-color"]')).toHaveAttribute("content", manifest.theme_color);

  const pngs = manifest.icons.filter((i: { type: string }) => i.type === "image/png");
  const sizes = pngs.map((i: { sizes: string }) => i.sizes);
  expect(sizes).toContain("192x192");
  expect(sizes).toContain("512x512");
  expect(pngs.some((i: { purpose: string }) => i.purpose.split(" ").includes("maskable"))).toBe(true);
  const touch = await page.locator('link[rel="apple-touch-icon"]').getAttribute("href");
  for (const { src, sizes } of [...pngs, { src: touch, sizes: "180x180" }]) {
    const got = await page.evaluate(async (src: string) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      return `${img.naturalWidth}x${img.naturalHeight}`;
    }, src);
    expect(got, src).toBe(sizes);
  }

  // Chromium's own verdict: the manifest parses, and nothing stands in the
  // way of installing but the test's private window.
  const cdp = await page.context().newCDPSession(page);
  const parsed = await cdp.send("Page.getAppManifest");
  expect(parsed.errors).toEqual([]);
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  expect(installabilityErrors.map((e) => e.errorId).filter((id) => id !== "in-incognito")).toEqual([]);
});
