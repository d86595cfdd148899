// What the browser tests share: pass/fail reporting, starting `mimir serve` on 127.0.0.1 and waiting until
// it answers, and opening a page in Debian's chromium (headless, a fresh profile each time) that records
// console errors and CSP violations.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const API_KEY = "browser-test-key";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let failures = 0;
export function check(condition, message) {
  if (condition) console.log(`  ok    ${message}`);
  else { failures++; console.log(`  FAIL  ${message}`); }
  return Boolean(condition);
}
export function fail(message) { check(false, message); }
export const failureCount = () => failures;

// Starts `mimir serve` with the model variables in `env` (the others cleared) and `extraArgs`; resolves
// once /api/status no longer says "loading". Feedback goes to a temporary store unless `extraArgs` name one.
export async function startServer(mimir, env, port, extraArgs = []) {
  const data = mkdtempSync(join(tmpdir(), "mimir-browser-data-"));
  const child = spawn(mimir, ["serve", "--host", "127.0.0.1", "--port", String(port), "--ctx", "2048", "--threads", "2", ...extraArgs], {
    env: { ...process.env, MIMIR_FINE_TUNED: "", MIMIR_ADAPTER: "", MIMIR_BASE: "", MIMIR_API_KEY: API_KEY,
           MIMIR_DATA: join(data, "feedback.db"), ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.once("exit", () => rmSync(data, { recursive: true, force: true }));
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const status = await (await fetch(url + "/api/status")).json();
      if (status.status !== "loading") return { child, url, status, log: () => log };
    } catch (e) { /* not listening yet */ }
    await sleep(100);
  }
  child.kill();
  throw new Error("server did not start: " + log);
}

export async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  server.child.kill("SIGTERM");
  await new Promise((r) => server.child.once("exit", r));
}

// Opens `path` of the server at `url`; `ready` is a function evaluated in the page that says it has set up.
export async function openPage(url, { path = "/", viewport = { width: 1100, height: 720 }, ready } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "mimir-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MIMIR_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
  const page = context.pages()[0] || (await context.newPage());
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  await page.goto(url + path);
  if (ready) await page.waitForFunction(ready);
  return { page, problems, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

// The status tooltip (the status button's ::after, which has no box of its own in the DOM) as a rectangle
// in viewport coordinates, computed from its resolved position and size; call while it is shown.
export function tooltipBox(page) {
  return page.evaluate(() => {
    const button = document.getElementById("status-button");
    const box = button.getBoundingClientRect();
    const own = getComputedStyle(button);
    const tip = getComputedStyle(button, "::after");
    const px = (value) => parseFloat(value) || 0;
    const paddingBottom = box.bottom - px(own.borderBottomWidth);
    const paddingRight = box.right - px(own.borderRightWidth);
    const extra = tip.boxSizing === "border-box" ? { w: 0, h: 0 }
      : { w: px(tip.paddingLeft) + px(tip.paddingRight) + px(tip.borderLeftWidth) + px(tip.borderRightWidth),
          h: px(tip.paddingTop) + px(tip.paddingBottom) + px(tip.borderTopWidth) + px(tip.borderBottomWidth) };
    const bottom = paddingBottom - px(tip.bottom);
    const right = paddingRight - px(tip.right);
    const width = px(tip.width) + extra.w, height = px(tip.height) + extra.h;
    return { left: right - width, right, top: bottom - height, bottom, width, height };
  });
}

// Viewport rectangles of the elements `selectors` name.
export function boxes(page, selectors) {
  return page.evaluate((list) => list.map((s) => {
    const r = document.querySelector(s).getBoundingClientRect();
    return { name: s, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  }), selectors);
}

export const intersects = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
