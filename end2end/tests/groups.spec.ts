import { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { bodies, drawnPng, openRoom, say, threePeople, newGroup } from "./helpers";

/** Opens the open group's settings with the keyboard. */
async function settings(page: Page) {
  await page.getByRole("button", { name: "Group settings and members" }).press("Enter");
  const dialog = page.getByRole("dialog", { name: "Group settings" });
  await expect(dialog).toBeVisible();
  return dialog;
}

test("an admin removes a member who is looking at the room: their composer goes and nothing more reaches them", async ({
  browser,
}) => {
  const { handles, pages } = await threePeople(browser);
  const [ann, ben, cat] = pages;
  await newGroup(ann, "Crew", handles.slice(1));
  await openRoom(ben, "Crew");
  await openRoom(cat, "Crew");
  await say(ann, "before");
  await expect(bodies(ben)).toHaveText(["before"]);

  // Ann makes Cat an admin, all by keyboard; Cat removes Ben.
  const annDialog = await settings(ann);
  const catRow = annDialog.locator(".member", { hasText: `@${handles[2]}` });
  await catRow.getByRole("button", { name: /Make .* an admin/ }).press("Enter");
  await expect(catRow.locator(".role")).toHaveText("admin");
  await ann.keyboard.press("Escape");
  await expect(cat.locator(".timeline .note").last()).toHaveText("ANN made you an admin");

  const catDialog = await settings(cat);
  const benRow = catDialog.locator(".member", { hasText: `@${handles[1]}` });
  await benRow.getByRole("button", { name: "Remove" }).click();
  await benRow.getByRole("button", { name: "Really remove?" }).click();
  await expect(catDialog.locator(".member", { hasText: `@${handles[1]}` })).toHaveCount(0);
  await expect(catDialog.getByRole("heading", { name: "Members (2)" })).toBeVisible();
  await cat.keyboard.press("Escape");

  // Ben, looking at the room, sees why, and can no longer write there.
  await expect(ben.locator(".timeline .note").last()).toHaveText("CAT removed you");
  await expect(ben.getByLabel("Message", { exact: true })).toHaveCount(0);
  await expect(ben.locator(".left-notice")).toBeVisible();
  await expect(ann.locator(".timeline .note").last()).toHaveText(`CAT removed BEN`);

  // Later messages reach the others, never Ben, even after a reload.
  await say(ann, "after");
  await expect(bodies(cat)).toHaveText(["before", "after"]);
  await ben.waitForTimeout(500);
  await expect(bodies(ben)).toHaveText(["before"]);
  await ben.reload();
  await expect(bodies(ben)).toHaveText(["before"]);
  await expect(ben.locator(".left-notice")).toBeVisible();
  await expect(ben.locator(".rooms .room.left", { hasText: "Crew" })).toHaveCount(1);
});

test("a group renamed by its owner changes in every member's window, with a line saying so", async ({ browser }) => {
  const { handles, pages } = await threePeople(browser);
  const [ann, ben] = pages;
  await newGroup(ann, "Old name", handles.slice(1));
  await openRoom(ben, "Old name");

  const dialog = await settings(ann);
  await dialog.getByLabel("Name").fill("New name");
  await dialog.getByLabel("Description").fill("Where we plan");
  await dialog.getByLabel("Description").press("Tab");
  await ann.keyboard.press("Enter");
  await expect(dialog.locator(".group-form").getByRole("status")).toHaveText("Saved.");
  const chooser = ann.waitForEvent("filechooser");
  await dialog.getByRole("button", { name: "Choose a picture" }).click();
  await (await chooser).setFiles({ name: "group.png", mimeType: "image/png", buffer: await drawnPng(ann, 120, 120) });
  await expect(dialog.getByText("Picture saved.")).toBeVisible();
  await ann.keyboard.press("Escape");

  await expect(ben.locator(".room-header h2")).toHaveText("New name");
  await expect(ben.locator(".timeline .note")).toHaveText([
    "ANN renamed the group to “New name”",
    "ANN changed the description",
    "ANN changed the group's picture",
  ]);
  await expect(ben.locator(".room-header .avatar img")).toBeVisible();
  await expect(ann.locator(".rooms .room", { hasText: "New name" })).toHaveCount(1);
  // A member sees the settings but cannot change them.
  const bens = await settings(ben);
  await expect(bens.getByRole("button", { name: "Save" })).toHaveCount(0);
  await expect(bens.getByRole("button", { name: "Choose a picture" })).toHaveCount(0);
  await expect(bens.getByLabel("Name")).toBeDisabled();
  await expect(bens.getByRole("button", { name: "Remove" })).toHaveCount(0);
});
