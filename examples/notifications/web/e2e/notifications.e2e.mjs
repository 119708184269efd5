// End-to-end test of the notifications example in headless Chromium: the
// page is built with build.mjs, the Go example server serves it (and
// Connect, the gateway and the dev sender) on a free loopback port, and
// two users, alice and bob, are signed in in two browser contexts.
//
//   npm run test:e2e          (from the repository root)
//
// The screenshot is written to tmp/e2e/notifications.png at the
// repository root.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "../../..");
const dist = join(web, "dist");
const screenshot = join(root, "tmp/e2e/notifications.png");
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

before(async () => {
  execFileSync(process.execPath, [join(web, "build.mjs")], { stdio: "inherit" });
  scratch = mkdtempSync(join(tmpdir(), "ssotws-e2e-"));
  const bin = join(scratch, "notifications-server");
  execFileSync("go", ["build", "-o", bin, "./examples/notifications/server"], { cwd: root, stdio: "inherit" });
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-web", dist], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  server = proc;
  base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`notifications server did not start: ${serverLog}`)), 15_000);
    proc.stderr.on("data", (b) => {
      serverLog += b.toString();
      const m = /http=(http:\/\/127\.0\.0\.1:\d+)/.exec(serverLog);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    proc.on("exit", (code) => fail(new Error(`notifications server exited with ${code}: ${serverLog}`)));
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 20_000 });
}, { timeout: 180_000 });

after(async () => {
  await browser?.close().catch(() => {});
  killServer();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** signIn opens the page in a fresh context, signs in as user through the form, and waits until the list is live. */
async function signIn(user) {
  assert.ok(browser);
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(base);
  await page.getByTestId("signin-name").fill(user);
  await page.getByTestId("signin-button").click();
  await page.locator(`[data-testid=user]`).filter({ hasText: user }).waitFor({ timeout: 10_000 });
  await page.locator("[data-testid=notification-list][data-live=true]").waitFor({ state: "attached", timeout: 10_000 });
  await page.locator("[data-testid=connection-state][data-state=open]").waitFor({ timeout: 15_000 });
  return { page, errors };
}

/** send is the server-side sender: POST /dev/send. */
async function send(to, text) {
  const res = await fetch(`${base}/dev/send`, { method: "POST", body: new URLSearchParams({ to, text }) });
  assert.equal(res.status, 200, await res.text());
}

/** waitFor polls get() until it equals want (deep), then asserts. */
async function waitFor(get, want, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let got;
  while (Date.now() < deadline) {
    got = await get();
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(got, want);
}

const texts = (page) => page.getByTestId("notification-text").allTextContents();
const unread = (page) => page.getByTestId("unread-count").getAttribute("data-count");

test("a notification reaches its user only, live; mark read lowers the unread count", { timeout: 60_000 }, async () => {
  const alice = await signIn("alice");
  const bob = await signIn("bob");
  assert.deepEqual(await texts(alice.page), []);
  assert.equal(await unread(bob.page), "0");

  // The server sends two to bob: they show up live on bob's page.
  await send("bob", "build passed");
  await send("bob", "review requested");
  await waitFor(() => texts(bob.page), ["review requested", "build passed"]);
  await waitFor(() => unread(bob.page), "2");
  // One to alice: hers only.
  await send("alice", "welcome, alice");
  await waitFor(() => texts(alice.page), ["welcome, alice"]);
  await waitFor(() => unread(alice.page), "1");
  // Let any stray delivery land (hooks flush every 100 ms), then look again:
  // neither page shows the other's.
  await bob.page.waitForTimeout(300);
  assert.deepEqual(await texts(bob.page), ["review requested", "build passed"]);
  assert.deepEqual(await texts(alice.page), ["welcome, alice"]);

  // Bob marks one read: the count drops, the item stays, read.
  await bob.page.locator("[data-testid=notification]", { hasText: "build passed" }).getByTestId("mark-read").click();
  await waitFor(() => unread(bob.page), "1");
  assert.equal(
    await bob.page.locator("[data-testid=notification]", { hasText: "build passed" }).getAttribute("data-read"),
    "true",
  );
  assert.equal(await unread(alice.page), "1", "alice's count is hers");

  // Sending from the page (the dev form) works the same way.
  await alice.page.getByTestId("send-to").fill("bob");
  await alice.page.getByTestId("send-text").fill("hi bob, from alice's page");
  await alice.page.getByTestId("send-button").click();
  await waitFor(() => texts(bob.page), ["hi bob, from alice's page", "review requested", "build passed"]);
  await waitFor(() => unread(bob.page), "2");
  assert.deepEqual(await texts(alice.page), ["welcome, alice"]);

  mkdirSync(dirname(screenshot), { recursive: true });
  await bob.page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
