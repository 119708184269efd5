// End-to-end test of the chat example in headless Chromium: the page is
// built with build.mjs, the Go example server serves it (and Connect and the
// gateway) on a free loopback port, and two pages sit in the same room.
//
//   npm run test:e2e          (from the repository root)
//
// Page two reaches the server through a loopback TCP proxy that the test
// controls: cutting it closes page two's WebSocket for real (Chromium's
// offline emulation, context.setOffline, leaves an open WebSocket alone).
// The screenshot is written to tmp/e2e/chat.png at the repository root.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "../../..");
const dist = join(web, "dist");
const screenshot = join(root, "tmp/e2e/chat.png");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** @type {import("node:child_process").ChildProcess | undefined} */
let server;
let serverLog = "";
let base = "";
/** @type {ReturnType<typeof startProxy> | undefined} */
let proxy;
/** @type {import("playwright-core").Browser | undefined} */
let browser;
let scratch = "";

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
}
process.on("exit", killServer);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killServer();
    process.exit(130);
  });
}

/**
 * startProxy forwards 127.0.0.1:<port> to target. cut() closes every
 * connection it carries and refuses new ones until restore().
 */
function startProxy(targetPort) {
  const sockets = new Set();
  let down = false;
  const srv = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  return {
    listen: () =>
      new Promise((ok, fail) => {
        srv.once("error", fail);
        srv.listen(0, "127.0.0.1", () => ok(/** @type {net.AddressInfo} */ (srv.address()).port));
      }),
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise((ok) => {
        for (const s of sockets) s.destroy();
        srv.close(() => ok(undefined));
      }),
  };
}

before(async () => {
  execFileSync(process.execPath, [join(web, "build.mjs")], { stdio: "inherit" });
  scratch = mkdtempSync(join(tmpdir(), "ssotws-e2e-"));
  const bin = join(scratch, "chat-server");
  execFileSync("go", ["build", "-o", bin, "./examples/chat/server"], { cwd: root, stdio: "inherit" });
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-web", dist], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  server = proc;
  base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`chat server did not start: ${serverLog}`)), 15_000);
    proc.stderr.on("data", (b) => {
      serverLog += b.toString();
      const m = /http=(http:\/\/127\.0\.0\.1:\d+)/.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    proc.on("exit", (code) => fail(new Error(`chat server exited with ${code}: ${serverLog}`)));
  });
  proxy = startProxy(Number(new URL(base).port));
  const proxyPort = await proxy.listen();
  proxy.base = `http://127.0.0.1:${proxyPort}`;
  // launch() gives Chromium a fresh temporary profile (user data dir).
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 20_000 });
}, { timeout: 180_000 });

after(async () => {
  await browser?.close().catch(() => {});
  await proxy?.close();
  killServer();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** texts returns the message texts a page shows, in order. */
async function texts(page) {
  return page.getByTestId("message-text").allTextContents();
}

/** expectTexts waits until a page shows exactly `want`. */
async function expectTexts(page, want, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let got = [];
  while (Date.now() < deadline) {
    got = await texts(page);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(got, want);
}

async function state(page) {
  return page.getByTestId("connection-state").getAttribute("data-state");
}

async function waitState(page, want, timeout = 15_000) {
  await page.locator(`[data-testid=connection-state][data-state=${want}]`).waitFor({ timeout });
}

/** openRoom opens the page at origin in room r1 and waits until the room is live. */
async function openRoom(context, origin) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${origin}/?room=r1`);
  await page.locator("[data-testid=room-title]").filter({ hasText: "General" }).waitFor({ timeout: 10_000 });
  // data-live: the list is read from the hydrated cache of Message?room_id=r1.
  await page.locator("[data-testid=message-list][data-live=true]").waitFor({ state: "attached", timeout: 10_000 });
  await waitState(page, "open");
  return { page, errors };
}

/** send types a message in the form and waits until the server accepted it. */
async function send(page, text, author = "alice") {
  await page.getByTestId("author-input").fill(author);
  await page.getByTestId("text-input").fill(text);
  await page.getByTestId("send-button").click();
  // The form clears the text once create resolved.
  await page.locator("[data-testid=text-input]").and(page.locator('[value=""]')).waitFor({ timeout: 10_000 });
  await assert.doesNotReject(async () => {
    const err = await page.getByTestId("send-error").count();
    if (err) throw new Error(await page.getByTestId("send-error").innerText());
  });
}

test("two pages in one room: live messages, and a cut socket catches up once, in order", { timeout: 60_000 }, async () => {
  assert.ok(browser && proxy);
  // Two browser contexts: two users, two shared connections.
  const one = await openRoom(await browser.newContext(), base);
  const ctxTwo = await browser.newContext();
  const sockets = [];
  ctxTwo.on("page", (p) => p.on("websocket", (ws) => sockets.push(ws)));
  const two = await openRoom(ctxTwo, proxy.base);
  assert.equal(sockets.length, 1, "page two opened one WebSocket");
  // Both show the room picker with the seeded rooms.
  assert.deepEqual(await one.page.getByTestId("room-list").getByRole("button").allTextContents(), ["General", "Random"]);

  // A message sent in page one appears in page two, without reload.
  await two.page.evaluate(() => {
    /** @type {any} */ (window).__notReloaded = true;
  });
  await send(one.page, "hello from one");
  await expectTexts(one.page, ["hello from one"]);
  await expectTexts(two.page, ["hello from one"]);
  assert.deepEqual(await two.page.getByTestId("message-author").allTextContents(), ["alice"]);

  // And the other way round.
  await send(two.page, "hi from two", "bob");
  await expectTexts(one.page, ["hello from one", "hi from two"]);
  await expectTexts(two.page, ["hello from one", "hi from two"]);

  // Cut page two's socket (and tell the page it is offline); page one
  // sends meanwhile.
  proxy.cut();
  await ctxTwo.setOffline(true);
  await waitState(two.page, "reconnecting");
  const missed = ["while cut 1", "while cut 2", "while cut 3"];
  for (const text of missed) await send(one.page, text);
  const all = ["hello from one", "hi from two", ...missed];
  await expectTexts(one.page, all);
  assert.deepEqual(await texts(two.page), ["hello from one", "hi from two"], "page two hears nothing while cut");
  assert.equal(await state(two.page), "reconnecting");

  // Restore: the page reconnects (at once, on "online"), resubscribes with
  // the last position it saw and gets what it missed — once, in order.
  proxy.restore();
  await ctxTwo.setOffline(false);
  await waitState(two.page, "open");
  await expectTexts(two.page, all);
  await two.page.locator("[data-testid=message-list][data-live=true]").waitFor({ state: "attached", timeout: 10_000 });
  // Let any late or duplicate delivery land (hooks flush every 100 ms), then look again.
  await two.page.waitForTimeout(500);
  assert.deepEqual(await texts(two.page), all, "no duplicates after the catch-up");
  assert.deepEqual(await texts(one.page), all);
  const ids = await two.page.getByTestId("message").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
  assert.equal(new Set(ids).size, all.length, "distinct records");
  assert.equal(await two.page.evaluate(() => /** @type {any} */ (window).__notReloaded), true, "page two was not reloaded");
  assert.ok(sockets.length >= 2, `page two reconnected its WebSocket (${sockets.length} sockets)`);

  // Live again after the catch-up.
  await send(one.page, "after restore");
  await expectTexts(two.page, [...all, "after restore"]);

  // The room picker: page one moves to Random, writes there; page two,
  // still in General, does not see it; back in General, page one sees it all.
  await one.page.getByTestId("room-r2").click();
  await one.page.locator("[data-testid=room-title]").filter({ hasText: "Random" }).waitFor({ timeout: 10_000 });
  await one.page.locator("[data-testid=message-list][data-live=true]").waitFor({ state: "attached", timeout: 10_000 });
  await expectTexts(one.page, []);
  await send(one.page, "in random");
  await expectTexts(one.page, ["in random"]);
  await one.page.getByTestId("room-r1").click();
  await expectTexts(one.page, [...all, "after restore"]);
  assert.deepEqual(await texts(two.page), [...all, "after restore"]);

  mkdirSync(dirname(screenshot), { recursive: true });
  await two.page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);
  assert.deepEqual(one.errors, []);
  assert.deepEqual(two.errors, []);
});

test("the connect-query page (/query/): useQuery lists patched live from the socket, no refetch", { timeout: 60_000 }, async () => {
  assert.ok(browser);
  /**
   * opens the connect-query page in room r2 and counts its List calls (a
   * refetch of the query would be one). Gets are not counted: a record
   * that comes to life in the 2 s after a snapshot is checked with one
   * (docs/client-semantics.md, "Gap-free hydration").
   */
  async function openQueryPage() {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    const reads = [];
    page.on("pageerror", (e) => errors.push(e));
    page.on("request", (r) => {
      if (/\/chat\.v1\.ChatService\/ListMessages$/.test(new URL(r.url()).pathname)) reads.push(r.url());
    });
    await page.goto(`${base}/query/?room=r2`);
    await page.locator("[data-testid=room-title]").filter({ hasText: "Random" }).waitFor({ timeout: 10_000 });
    await page.locator("[data-testid=message-list][data-live=true]").waitFor({ state: "attached", timeout: 10_000 });
    await waitState(page, "open");
    return { page, errors, reads };
  }
  const one = await openQueryPage();
  const two = await openQueryPage();
  assert.match(await one.page.locator("h1").innerText(), /connect-query/);
  const before = await texts(one.page);
  assert.deepEqual(await texts(two.page), before);
  const readsOne = one.reads.length;
  const readsTwo = two.reads.length;
  assert.ok(readsTwo >= 1, "the page hydrated its query over HTTP");

  // useMutation in page one; page two's useQuery data is patched in place.
  await send(one.page, "query one");
  await expectTexts(one.page, [...before, "query one"]);
  await expectTexts(two.page, [...before, "query one"]);
  await send(two.page, "query two", "bob");
  await expectTexts(one.page, [...before, "query one", "query two"]);
  await expectTexts(two.page, [...before, "query one", "query two"]);
  // Let a late echo or refetch land, then look again: once each, no List call.
  await two.page.waitForTimeout(500);
  assert.deepEqual(await texts(one.page), [...before, "query one", "query two"], "own write shown once");
  assert.deepEqual(await texts(two.page), [...before, "query one", "query two"]);
  assert.equal(one.reads.length, readsOne, `page one refetched: ${one.reads.slice(readsOne).join(", ")}`);
  assert.equal(two.reads.length, readsTwo, `page two refetched: ${two.reads.slice(readsTwo).join(", ")}`);

  // The other page (the DataClient hooks) sees the same room.
  const classic = await openRoom(await browser.newContext(), base);
  await classic.page.getByTestId("room-r2").click();
  await expectTexts(classic.page, [...before, "query one", "query two"]);
  await send(classic.page, "from the hooks page");
  await expectTexts(two.page, [...before, "query one", "query two", "from the hooks page"]);
  assert.equal(two.reads.length, readsTwo);

  mkdirSync(dirname(screenshot), { recursive: true });
  await two.page.screenshot({ path: screenshot.replace(/\.png$/, "-query.png") });
  assert.deepEqual(one.errors, []);
  assert.deepEqual(two.errors, []);
  // Close the pages: the next test counts who is online in this room.
  await one.page.context().close();
  await two.page.context().close();
  await classic.page.context().close();
});

/** openRandom opens a page in the room "Random" (r2), in a context of its own. */
async function openRandom(name) {
  assert.ok(browser);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${base}/?room=r2`);
  await page.locator("[data-testid=room-title]").filter({ hasText: "Random" }).waitFor({ timeout: 10_000 });
  await waitState(page, "open");
  await page.getByTestId("author-input").fill(name);
  return { context, page, errors };
}

/** expectOnline waits until a page shows exactly these names online (sorted). */
async function expectOnline(page, want, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let got = [];
  while (Date.now() < deadline) {
    got = (await page.getByTestId("online-member").allTextContents()).sort();
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await page.waitForTimeout(50);
  }
  assert.deepEqual(got, want);
}

test("presence and typing: each page sees the other online, and who is typing", { timeout: 60_000 }, async () => {
  const ann = await openRandom("ann");
  const ben = await openRandom("ben");
  await expectOnline(ann.page, ["ann", "ben"]);
  await expectOnline(ben.page, ["ann", "ben"]);

  // ben types: ann sees it; ben does not see himself typing.
  await ben.page.getByTestId("text-input").fill("hel");
  await ann.page.getByTestId("typing").filter({ hasText: "ben typing…" }).waitFor({ timeout: 10_000 });
  assert.equal(await ben.page.getByTestId("typing").innerText(), "");

  // ben sends: the indicator goes at once (a "stopped" signal), not after its timeout.
  await send(ben.page, "hello", "ben");
  await ann.page.locator("[data-testid=typing]").filter({ hasNotText: "typing" }).waitFor({ timeout: 3_000 });
  await ann.page.getByTestId("message-text").filter({ hasText: /^hello$/ }).waitFor({ timeout: 10_000 });

  mkdirSync(dirname(screenshot), { recursive: true });
  await ann.page.screenshot({ path: screenshot.replace(/chat\.png$/, "presence.png") });

  // ben closes his page: he leaves ann's list.
  await ben.context.close();
  await expectOnline(ann.page, ["ann"]);
  assert.deepEqual(ann.errors, []);
  assert.deepEqual(ben.errors, []);
  await ann.context.close();
});

test("a message over chat.proto's 4096 bytes is refused in the page, before it is sent", { timeout: 60_000 }, async () => {
  assert.ok(browser);
  const { page, errors } = await openRoom(await browser.newContext(), base);
  const creates = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/CreateMessage")) creates.push(r.url());
  });
  await page.getByTestId("author-input").fill("alice");
  await page.getByTestId("text-input").fill("x".repeat(4097));
  await page.getByTestId("send-button").click();
  await page.getByTestId("text-error").filter({ hasText: "Message: must be at most 4096 bytes" }).waitFor({ timeout: 10_000 });
  assert.equal(await page.getByTestId("text-input").getAttribute("aria-invalid"), "true");
  assert.equal((await page.getByTestId("text-input").inputValue()).length, 4097, "the text is kept to be fixed");
  assert.deepEqual(creates, [], "nothing was sent");

  // Fixed, it goes through and the error goes away.
  await send(page, "x".repeat(4096));
  await page.getByTestId("text-error").waitFor({ state: "detached", timeout: 10_000 });
  assert.equal(creates.length, 1);
  assert.deepEqual(errors, []);
  await page.context().close();
});
