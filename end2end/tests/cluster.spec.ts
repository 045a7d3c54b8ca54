import { expect, test } from "./fixtures";
import { bodies, hydrated, openDirect, openRoom, say, twoPeople } from "./helpers";

// Runs against the cluster that `make test` starts (nginx in front of two
// nodes); CLUSTER_NODES lists the nodes' own URLs, to see who holds which socket.
const nodes = (process.env.CLUSTER_NODES ?? "").split(",").filter(Boolean);

async function connections(): Promise<number[]> {
  return Promise.all(nodes.map(async (n) => (await (await fetch(`${n}/statz`)).json()).connections as number));
}

test("two people on different nodes, through nginx: messages, ticks, typing, presence", async ({ browser }) => {
  test.skip(nodes.length < 2, "needs the cluster (make test starts one)");
  const { bob, a, b } = await twoPeople(browser);
  await expect.poll(async () => (await connections()).reduce((x, y) => x + y, 0)).toBe(2);
  // Round-robin without stickiness puts a socket anywhere: reload Bob until
  // the two sockets are on different nodes (an extra request each time
  // shifts the rotation, since a page load makes a fixed number of them).
  for (let i = 0; i < 10 && (await connections()).some((c) => c > 1); i++) {
    for (let k = 0; k <= i; k++) await b.request.get("/healthz");
    await b.reload();
    await hydrated(b);
    await expect.poll(async () => (await connections()).reduce((x, y) => x + y, 0)).toBe(2);
  }
  expect((await connections()).filter((c) => c === 1)).toHaveLength(2);

  await openDirect(a, bob, "Bob");
  await expect(b.locator(".rooms .room", { hasText: "Alice" })).toHaveCount(1);
  await openRoom(b, "Alice");
  await expect(a.locator(".room-header .presence")).toHaveText("online");

  await say(a, "hello across nodes");
  await expect(bodies(b)).toHaveText(["hello across nodes"]);
  await expect(a.locator('.msg.mine[data-seq="1"]')).toHaveAttribute("data-state", "read");

  await b.getByLabel("Message", { exact: true }).pressSequentially("hi");
  await expect(a.locator(".typing")).toHaveText("Bob is typing…");
  await b.getByLabel("Message", { exact: true }).press("Enter");
  await expect(bodies(a)).toHaveText(["hello across nodes", "hi"]);
  await expect(a.locator(".typing")).toHaveText("");
  await expect(b.locator('.msg.mine[data-seq="2"]')).toHaveAttribute("data-state", "read");
});

test("a file uploaded through nginx is served by every node (one S3 bucket behind them)", async ({ browser }) => {
  test.skip(nodes.length < 2, "needs the cluster (make test starts one)");
  const { bob, a, b } = await twoPeople(browser);
  await openDirect(a, bob, "Bob");
  // 3 MB in 1 MB parts: round-robin sends the parts to both nodes.
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 123);
  bytes.write("%PDF-1.7\n");
  for (let i = 9; i < bytes.length; i += 997) bytes[i] = i % 253;
  await a.locator(".composer input[type=file]").setInputFiles({ name: "plan.pdf", mimeType: "application/pdf", buffer: bytes });
  await expect(a.locator(".attaching .attach")).toHaveAttribute("data-state", "done");
  await a.getByLabel("Message", { exact: true }).press("Enter");
  await openRoom(b, "Alice");
  const href = (await b.locator(".timeline .msg a.file").last().getAttribute("href"))!;
  // The session cookie is the host's, whatever the port: each node answers Bob.
  const cookie = (await b.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  for (const node of nodes) {
    const got = await fetch(`${node}${href}`, { headers: { cookie } });
    expect(got.status, node).toBe(200);
    expect(Buffer.compare(Buffer.from(await got.arrayBuffer()), bytes), node).toBe(0);
  }
});
