import { expect, test } from "./fixtures";
import { bodies, openDirect, say, stored, toList, twoPeople } from "./helpers";

test("blocking a person stops their direct messages, silently, until unblocked", async ({ browser }) => {
  const { alice, bob, a, b } = await twoPeople(browser);
  await openDirect(b, alice, "Alice");
  await say(b, "hi");
  await openDirect(a, bob, "Bob");
  await expect(bodies(a)).toHaveText(["hi"]);

  // Alice blocks Bob by keyboard, confirming once more.
  const button = a.getByRole("button", { name: "Block" });
  await button.focus();
  await a.keyboard.press("Enter");
  await expect(a.getByRole("button", { name: "Really block?" })).toBeFocused();
  await a.keyboard.press("Enter");
  await expect(a.getByRole("button", { name: "Unblock" })).toBeVisible();

  // Bob is not told: his message is stored (✓) but never reaches Alice.
  await say(b, "are you there?");
  await expect(stored(b)).toHaveCount(2);
  await say(a, "bye");
  await expect(bodies(b)).toHaveText(["hi", "are you there?", "bye"]);
  await expect(bodies(a)).toHaveText(["hi", "bye"]);
  await a.reload();
  await expect(bodies(a)).toHaveText(["hi", "bye"]);
  await toList(a);
  await expect(a.locator(".rooms .room .badge")).toHaveCount(0);

  // Unblocked from the settings screen: what Bob sends now arrives.
  await a.getByRole("link", { name: "Settings" }).click();
  await a.getByRole("button", { name: "Unblock Bob" }).click();
  await expect(a.getByText("Unblocked.")).toBeVisible();
  await say(b, "sorry");
  await toList(a);
  await a.locator(".rooms .room", { hasText: "Bob" }).locator("a").click();
  await expect(bodies(a)).toHaveText(["hi", "bye", "sorry"]);
});
