import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { cat, hydrated, openDirect, openRoom, twoPeople } from "./helpers";

/** Pastes a `w`×`h` PNG drawn in the page into the composer, as a screenshot tool would. */
async function pasteImage(page: Page, name: string, w: number, h: number) {
  await page.getByLabel("Message", { exact: true }).evaluate(
    async (box, [name, w, h]) => {
      const canvas = document.createElement("canvas");
      [canvas.width, canvas.height] = [w as number, h as number];
      const g = canvas.getContext("2d")!;
      g.fillStyle = "#e07a2f";
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.fillStyle = "#2f6fe0";
      g.fillRect(0, 0, canvas.width / 2, canvas.height / 3);
      const blob: Blob = await new Promise((ok) => canvas.toBlob((b) => ok(b!), "image/png"));
      const data = new DataTransfer();
      data.items.add(new File([blob], name as string, { type: "image/png" }));
      box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    },
    [name, w, h],
  );
}

/** The image has loaded (a thumbnail that failed would be 0 wide). */
async function loaded(page: Page, selector: string) {
  await expect
    .poll(() => page.locator(selector).last().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeGreaterThan(0);
}

test("a pasted image uploads with its progress, reaches the other side as a thumbnail and opens in the lightbox", async ({
  browser,
}) => {
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await pasteImage(a, "sunset.png", 1200, 800);
  const chip = a.locator(".attaching .attach");
  await expect(chip.locator("progress")).toBeVisible();
  await expect(chip).toHaveAttribute("data-state", "done");
  await expect(chip.locator(".attach-status")).toHaveText("Ready to send");
  await expect(chip.locator("progress")).toHaveAttribute("value", String(await chip.locator("progress").getAttribute("max")));
  await a.getByLabel("Message", { exact: true }).fill("the view from here");
  await a.getByLabel("Message", { exact: true }).press("Enter");
  await expect(a.locator(".attaching")).toHaveCount(0);
  const mine = a.locator(".timeline .msg.mine").last();
  await expect(mine.locator(".thumb img")).toHaveAttribute("width", "320");
  await expect(mine.locator(".thumb img")).toHaveAttribute("height", "213");
  await loaded(a, ".timeline .msg.mine .thumb img");
  await expect(mine).toHaveAttribute("data-state", /sent|delivered|read/);

  // Bob sees it live, and opens it.
  await openRoom(b, "Alice");
  const theirs = b.locator(".timeline .msg:not(.mine)").last();
  await expect(theirs.locator(".body")).toHaveText("the view from here");
  await loaded(b, ".timeline .msg .thumb img");
  const src = (await theirs.locator(".thumb img").getAttribute("src"))!;
  expect(src).toMatch(/^\/files\/[0-9a-f-]{36}\/thumb$/);
  const url = src.replace(/\/thumb$/, "");
  await theirs.getByRole("button", { name: /Open image sunset\.png/ }).click();
  const box = b.getByRole("dialog", { name: "Image sunset.png" });
  await expect(box).toBeVisible();
  await expect(box.locator("img")).toHaveAttribute("src", url);
  await loaded(b, ".lightbox img");
  await expect(box.locator(".lightbox-place")).toHaveText("1 of 1");
  await b.keyboard.press("ArrowRight");
  await expect(box.locator("img")).toHaveAttribute("src", url);
  await b.keyboard.press("Escape");
  await expect(box).toHaveCount(0);
  await expect(theirs.locator(".thumb")).toBeFocused();

  // Served to them; to someone not in the room, it does not exist.
  expect((await b.request.get(url)).status()).toBe(200);
  const served = await b.request.get(url);
  expect(served.headers()["content-type"]).toBe("image/png");
  expect(served.headers()["x-content-type-options"]).toBe("nosniff");
  const c = await cat(browser);
  expect((await c.page.request.get(url)).status()).toBe(404);
  expect((await c.page.request.get(src)).status()).toBe(404);
});

test("a file dropped anywhere on the open room is attached, and can be taken off again", async ({ browser }) => {
  const { bob, a } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  await a.locator(".timeline").evaluate((el) => {
    const data = new DataTransfer();
    data.items.add(new File(["hello from a file\n"], "notes.txt", { type: "text/plain" }));
    for (const type of ["dragenter", "dragover", "drop"]) {
      el.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  });
  const chip = a.locator(".attaching .attach");
  await expect(chip).toHaveAttribute("data-state", "done");
  await expect(chip.locator(".attach-name")).toHaveText("notes.txt");
  // By keyboard: Tab reaches its remove button.
  await chip.getByRole("button", { name: "Remove notes.txt" }).focus();
  await a.keyboard.press("Enter");
  await expect(a.locator(".attaching")).toHaveCount(0);
  await expect(a.getByRole("button", { name: "Send" })).toBeDisabled();
});

test.describe("going offline", () => {
  test.use({ allowedErrors: [/ERR_INTERNET_DISCONNECTED/] });

  test("a large file's upload survives going offline half way and completes after", async ({ browser }) => {
    const { bob, a, b, actx } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    // A 6 MB PDF goes up in 1 MB parts; the third is cut by the network going away.
    const size = 6 * 1024 * 1024;
    const bytes = Buffer.alloc(size);
    bytes.write("%PDF-1.7\n");
    for (let i = 9; i < size; i += 4093) bytes[i] = i % 251;
    let patches = 0;
    await a.route("**/uploads/*", async (route) => {
      if (route.request().method() === "PATCH" && ++patches === 3) {
        await actx.setOffline(true);
        await route.abort("internetdisconnected");
        return;
      }
      await route.continue();
    });
    await a.locator(".composer input[type=file]").setInputFiles({ name: "report.pdf", mimeType: "application/pdf", buffer: bytes });
    const chip = a.locator(".attaching .attach");
    await expect(chip).toHaveAttribute("data-state", "waiting");
    await expect(chip.locator(".attach-status")).toHaveText("Waiting for the network…");
    const sent = Number(await chip.locator("progress").getAttribute("value"));
    expect(sent).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(sent).toBeLessThan(size);
    // Nothing can be sent meanwhile: it says why.
    await a.getByLabel("Message", { exact: true }).press("Enter");
    await expect(a.locator(".compose-note")).toHaveText("Wait for the files to finish uploading.");
    await actx.setOffline(false);
    await expect(chip).toHaveAttribute("data-state", "done", { timeout: 20_000 });
    await a.getByLabel("Message", { exact: true }).press("Enter");
    const card = a.locator(".timeline .msg.mine").last().locator("a.file");
    await expect(card.locator(".file-name")).toHaveText("report.pdf");
    await expect(card.locator(".file-meta")).toHaveText("6.0 MB · PDF");

    await openRoom(b, "Alice");
    const theirs = b.locator(".timeline .msg:not(.mine)").last().locator("a.file");
    await expect(theirs).toHaveAttribute("download", "report.pdf");
    const href = (await theirs.getAttribute("href"))!;
    const got = await b.request.get(href);
    expect(got.status()).toBe(200);
    expect(got.headers()["content-disposition"]).toMatch(/^attachment;/);
    expect(Buffer.compare(await got.body(), bytes)).toBe(0);
  });

  test("after a reload, picking the same file again goes on where its upload stopped", async ({ browser }) => {
    const { bob, a, b } = await twoPeople(browser);
    await openDirect(a, bob, "Bob");
    // The same file both times: same name, size, date and bytes.
    const pick = () =>
      a.locator(".composer input[type=file]").evaluate((input: HTMLInputElement) => {
        const bytes = new Uint8Array(5 * 1024 * 1024);
        bytes.set(new TextEncoder().encode("%PDF-1.7\n"));
        for (let i = 9; i < bytes.length; i += 4093) bytes[i] = i % 251;
        const data = new DataTransfer();
        data.items.add(new File([bytes], "slides.pdf", { type: "application/pdf", lastModified: 1_700_000_000_000 }));
        input.files = data.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    // The third part, and everything after it, never arrives: then the page is reloaded.
    let patches = 0;
    await a.route("**/uploads/**", async (route) => {
      if (route.request().method() === "PATCH") patches += 1;
      if (patches >= 3) return route.abort("internetdisconnected");
      return route.continue();
    });
    await pick();
    await expect(a.locator(".attaching .attach")).toHaveAttribute("data-state", "waiting");
    await a.unroute("**/uploads/**");
    await a.reload();
    await hydrated(a);
    const offsets: number[] = [];
    a.on("request", (r) => {
      if (r.method() === "PATCH") offsets.push(Number(r.headers()["upload-offset"]));
    });
    await pick();
    await expect(a.locator(".attaching .attach")).toHaveAttribute("data-state", "done");
    expect(offsets[0], "the first part after the reload").toBe(2 * 1024 * 1024);
    expect(offsets).toHaveLength(3);
    await a.getByLabel("Message", { exact: true }).press("Enter");
    await openRoom(b, "Alice");
    const href = (await b.locator(".timeline .msg a.file").last().getAttribute("href"))!;
    const got = await b.request.get(href);
    expect(got.status()).toBe(200);
    expect((await got.body()).length).toBe(5 * 1024 * 1024);
  });
});
