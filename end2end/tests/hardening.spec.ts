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
