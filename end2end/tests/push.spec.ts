import { BrowserContext, CDPSession, Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import crypto from "node:crypto";
import http from "node:http";
import { AddressInfo } from "node:net";
import { bodies, hydrated, openDirect, openRoom, say, twoPeople } from "./helpers";

// The subscription's key pair and auth secret of RFC 8291 section 5: the test
// holds the private key, as a browser would, to read what the server sent.
const UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const AUTH = "BTBZMqHH6r4Tts7J_aSIgg";
const b64 = (s: string) => Buffer.from(s, "base64url");

/** What the service worker has on screen. */
function shown(page: Page) {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
  });
}

/** Delivers `notice` to the page's service worker as a push service would (DevTools protocol). */
async function push(cdp: CDPSession, page: Page, registrationId: string, notice: object) {
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin: new URL(page.url()).origin,
    registrationId,
    data: JSON.stringify(notice),
  });
}

async function registration(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  const id = new Promise<string>((resolve) =>
    cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => {
      const live = e.registrations.find((r) => !r.isDeleted && r.scopeURL.startsWith(new URL(page.url()).origin));
      if (live) resolve(live.registrationId);
    }),
  );
  await cdp.send("ServiceWorker.enable");
  return { cdp, id: await id };
}

test("a push shows its notification, but not while that room is open and visible", async ({ browser }) => {
  const { bob, a, b, bctx } = await twoPeople(browser);
  await bctx.grantPermissions(["notifications"], { origin: new URL(b.url()).origin });
  // With the permission granted, a page load registers the service worker.
  await b.reload();
  await hydrated(b);
  const script = await b.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
  expect(script).toMatch(/\/sw\.js$/);
  await expect(b.getByRole("button", { name: "Enable notifications" })).toBeVisible();

  await openDirect(a, bob, "Bob");
  await say(a, "hello there");
  const row = b.locator(".rooms .room", { hasText: "Alice" });
  await expect(row.locator(".badge")).toHaveText("1");
  const room = Number((await row.locator("a").getAttribute("href"))!.split("/").pop());
  const notice = (seq: number, body: string, unread: number) => ({
    room, seq, title: "Alice", body, from: "Alice", room_name: "Alice", unread, total: unread, url: `/r/${room}`,
  });

  const { cdp, id } = await registration(b);
  await push(cdp, b, id, notice(1, "hello there", 1));
  await expect.poll(() => shown(b)).toEqual([{ title: "Alice", body: "hello there", tag: `room-${room}` }]);
  // A newer notice for the room replaces it, with the unread count.
  await push(cdp, b, id, notice(2, "are you there?", 2));
  await expect
    .poll(() => shown(b))
    .toEqual([{ title: "Alice", body: "are you there?\n2 unread messages", tag: `room-${room}` }]);

  // With the room open and visible, its notices are not shown; another room's are.
  await openRoom(b, "Alice");
  expect(await b.evaluate(() => document.visibilityState)).toBe("visible");
  await push(cdp, b, id, notice(3, "now you see me", 3));
  await push(cdp, b, id, { ...notice(1, "elsewhere", 1), room: room + 1000, title: "Cat", url: `/r/${room + 1000}` });
  await expect.poll(async () => (await shown(b)).map((n) => n.tag)).toContain(`room-${room + 1000}`);
  expect((await shown(b)).map((n) => n.body)).not.toContain("now you see me\n3 unread messages");
});


type Received = { headers: http.IncomingHttpHeaders; body: Buffer };

/** A Web Push service on loopback that records each POST and answers 201. */
async function pushService() {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(parts) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, got, close: () => server.close() };
}

/** RFC 8291 / RFC 8188 aes128gcm, one record: what the browser does with a push. */
function decrypt(body: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.setPrivateKey(b64(UA_PRIVATE));
  const shared = ecdh.computeSecret(asPublic);
  const hkdf = (salt: Buffer, ikm: Buffer, info: Buffer, len: number) =>
    Buffer.from(crypto.hkdfSync("sha256", ikm, salt, info, len));
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), b64(UA_PUBLIC), asPublic]);
  const ikm = hkdf(b64(AUTH), shared, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from("Content-Encoding: aes128gcm\0"), 16);
  const nonce = hkdf(salt, ikm, Buffer.from("Content-Encoding: nonce\0"), 12);
  const decipher = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(-16));
  const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, -16)), decipher.final()]);
  let end = plain.length - 1;
  while (plain[end] === 0) end--;
  expect(plain[end], "the last record's delimiter").toBe(2);
  return plain.subarray(0, end).toString();
}

/** RFC 8292: `vapid t=<ES256 JWT for this origin>, k=<the server's public key>`. */
function checkVapid(header: string | undefined, serverKey: string, audience: string) {
  const m = /^vapid t=([^,]+), k=(.+)$/.exec(header ?? "");
  expect(m, `a VAPID authorization: ${header}`).not.toBeNull();
  const [, token, key] = m!;
  expect(key).toBe(serverKey);
  const [head, claims, signature] = token.split(".");
  const point = b64(key);
  const publicKey = crypto.createPublicKey({
    key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
    format: "jwk",
  });
  const signed = crypto.verify("sha256", Buffer.from(`${head}.${claims}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, b64(signature));
  expect(signed, "signed by the server's VAPID key").toBe(true);
  const c = JSON.parse(b64(claims).toString());
  expect(c.aud).toBe(audience);
  expect(c.exp * 1000).toBeGreaterThan(Date.now());
}

/**
 * Turns notifications on in `page`, subscribed to `service` as "bobs-laptop";
 * the page's origin. Headless Chromium has no push service of its own
 * (subscribing fails with "Registration failed - permission denied"): the
 * subscription points at the test's push service, with the RFC 8291 keys.
 */
async function subscribeTo(service: { origin: string }, page: Page, ctx: BrowserContext) {
  const origin = new URL(page.url()).origin;
  await ctx.grantPermissions(["notifications"], { origin });
  await ctx.addInitScript(({ endpoint, p256dh, auth }) => {
    const sub = { endpoint, expirationTime: null, toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }) };
    PushManager.prototype.subscribe = async () => sub as unknown as PushSubscription;
  }, { endpoint: `${service.origin}/push/bobs-laptop`, p256dh: UA_PUBLIC, auth: AUTH });
  await page.reload();
  await hydrated(page);
  await page.getByRole("button", { name: "Enable notifications" }).click();
  await expect(page.locator(".notifications")).toHaveText("Notifications on");
  return origin;
}

test.describe("away from the app", () => {
  // "/away" is a page of the site without the app: a 404 on purpose.
  test.use({ allowedErrors: [/the server responded with a status of 404/] });

  test("away, Bob's device is notified through the push service, and the app agrees on his return", async ({ browser }) => {
    const service = await pushService();
    const { bob, a, b, bctx } = await twoPeople(browser);
    const origin = await subscribeTo(service, b, bctx);

    await openDirect(a, bob, "Bob");
    await say(a, "hello");
    const row = b.locator(".rooms .room", { hasText: "Alice" });
    await expect(row.locator(".badge")).toHaveText("1");
    await openRoom(b, "Alice");
    await expect(row.locator(".badge")).toHaveCount(0);
    await expect(a.locator(".msg.mine[data-state=read]")).toHaveCount(1);
    expect(service.got, "no push while Bob is online").toHaveLength(0);

    // Bob leaves the app (a page of the site without it, where his service worker still runs).
    await b.goto("/away");
    await expect(a.locator(".room-header .presence")).toContainText("last seen");
    await say(a, "are you there?");
    await say(a, "it's about lunch");
    await expect.poll(() => service.got.length).toBeGreaterThan(0);
    const first = service.got[0];
    expect(first.headers["content-encoding"]).toBe("aes128gcm");
    expect(first.headers["urgency"]).toBe("high");
    expect(Number(first.headers["ttl"])).toBeGreaterThan(0);
    const serverKey = await (await b.request.post("/api/push_key", { data: {} })).json();
    checkVapid(first.headers["authorization"], serverKey, service.origin);
    const room = Number((await a.locator(".timeline").getAttribute("data-room"))!);
    expect(first.headers["topic"]).toBe(`room-${room}`);
    // Two messages in the collapse window: one notice, or the first and then
    // one with the latest message and count when the window ends.
    const last = () => JSON.parse(decrypt(service.got[service.got.length - 1].body));
    await expect.poll(() => last().body, { timeout: 15_000 }).toBe("it's about lunch");
    expect(service.got.length).toBeLessThanOrEqual(2);
    const latest = decrypt(service.got[service.got.length - 1].body);
    expect(JSON.parse(latest)).toMatchObject({
      room, title: "Alice", body: "it's about lunch", unread: 2, total: 2, url: `/r/${room}`,
    });

    // The service worker gets what the push service got, and shows it.
    const { cdp, id } = await registration(b);
    await cdp.send("ServiceWorker.deliverPushMessage", { origin, registrationId: id, data: latest });
    await expect
      .poll(() => shown(b))
      .toEqual([{ title: "Alice", body: "it's about lunch\n2 unread messages", tag: `room-${room}` }]);

    // Back in the app: the badge and the title say what the notice said.
    await b.goto("/");
    await hydrated(b);
    await expect(row.locator(".badge")).toHaveText("2");
    await expect(b).toHaveTitle("(2) Chat");
    await b.goto(`/r/${room}`);
    await expect(b.locator(".unread-divider")).toHaveText("2 new messages");
    await expect(bodies(b)).toHaveText(["hello", "are you there?", "it's about lunch"]);
    service.close();
  });
});

test.describe("no push service", () => {
  // Headless Chromium says so in the console: that is the case under test.
  test.use({ allowedErrors: [/does not support the Push API/] });

  test("where the browser cannot subscribe, the control says why", async ({ browser }) => {
    const { b, bctx } = await twoPeople(browser);
    await bctx.grantPermissions(["notifications"], { origin: new URL(b.url()).origin });
    await b.getByRole("button", { name: "Enable notifications" }).click();
    await expect(b.locator(".notifications [role=alert]")).toContainText("This browser could not subscribe");
    await expect(b.getByRole("button", { name: "Enable notifications" })).toBeVisible();
  });
});


test.describe("mentions and replies only", () => {
  test.use({ allowedErrors: [/the server responded with a status of 404/] });

  test("a room set to mentions and replies pushes only for the mention", async ({ browser }) => {
    const service = await pushService();
    const { bob, a, b, bctx } = await twoPeople(browser);
    await subscribeTo(service, b, bctx);
    await openDirect(a, bob, "Bob");
    await say(a, "hello");
    // Bob sets the room to mentions and replies, and leaves the app.
    await openRoom(b, "Alice");
    const level = b.getByLabel("Notifications", { exact: true });
    await level.selectOption("Mentions and replies");
    await b.reload();
    await hydrated(b);
    await expect(b.getByLabel("Notifications", { exact: true })).toHaveValue("mentions");
    await b.goto("/away");
    await expect(a.locator(".room-header .presence")).toContainText("last seen");
    await say(a, "nothing for Bob");
    const box = a.getByLabel("Message", { exact: true });
    await box.pressSequentially("@Bo");
    await box.press("Enter");
    await box.pressSequentially("lunch?");
    await box.press("Enter");
    await expect.poll(() => service.got.length, { timeout: 15_000 }).toBeGreaterThan(0);
    // Only the mention, and nothing more after it.
    await a.waitForTimeout(1_500);
    expect(service.got.map((g) => JSON.parse(decrypt(g.body)).body)).toEqual(["@Bob lunch?"]);
    service.close();
  });
});
