// Browser tests of the chat page against a real `mimir serve`, one server per model state:
// the model-status button's colours, hover, tooltip and its 50-character cut; a streamed reply; model
// output with HTML and script shown as text; the button following a reload without a page refresh; the
// tooltip clear of the message input and Send.
// Usage: node status_page.mjs --mimir PATH --models DIR --artifacts DIR
import { copyFileSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { API_KEY, boxes, check, failureCount, intersects, openPage as open, sleep, startServer as start, stopServer, tooltipBox }
  from "./harness.mjs";

const { values: args } = parseArgs({ options: { mimir: { type: "string" }, models: { type: "string" }, artifacts: { type: "string" } } });
const COLOURS = {
  success: { base: "rgb(56, 161, 105)", hover: "rgb(47, 133, 90)", shadow: "rgba(56, 161, 105, 0.3)" },
  warning: { base: "rgb(221, 107, 32)", hover: "rgb(192, 86, 33)", shadow: "rgba(221, 107, 32, 0.3)" },
  error: { base: "rgb(229, 62, 62)", hover: "rgb(197, 48, 48)", shadow: "rgba(229, 62, 62, 0.3)" },
};
const startServer = (env, port) => start(args.mimir, env, port);
const openPage = (url) => open(url, { ready: () => window.MimirStatus && document.getElementById("status-button").dataset.state });

async function checkButton(page, expectedState, status, name) {
  const button = page.locator("#status-button");
  await page.waitForFunction((s) => document.getElementById("status-button").dataset.state === s, expectedState, { timeout: 8000 });
  const colours = COLOURS[expectedState];
  const style = (pseudo) => button.evaluate((el, p) => {
    const s = getComputedStyle(el, p);
    return { background: s.backgroundColor, content: s.content, transform: s.transform, shadow: s.boxShadow,
             visibility: s.visibility, pointer: s.pointerEvents, whiteSpace: s.whiteSpace, position: s.position, bottom: s.bottom };
  }, pseudo);
  await page.mouse.move(5, 5);
  await sleep(250);
  const idle = await style(null);
  check(idle.background === colours.base, `${name}: background ${idle.background} is ${colours.base}`);
  const tooltipBefore = await style("::after");
  check(tooltipBefore.visibility === "hidden", `${name}: tooltip hidden until hover`);
  await button.hover();
  await sleep(300);
  const hovered = await style(null);
  check(hovered.background === colours.hover, `${name}: hover background ${hovered.background} is ${colours.hover}`);
  check(hovered.transform === "matrix(1, 0, 0, 1, 0, -1)", `${name}: hover lifts 1px (${hovered.transform})`);
  check(hovered.shadow.includes(colours.shadow) && hovered.shadow.includes("0px 4px 8px"), `${name}: hover shadow ${hovered.shadow}`);
  const tooltip = await style("::after");
  check(tooltip.content === JSON.stringify(status.tooltip), `${name}: tooltip text is the status API's: ${tooltip.content}`);
  check(tooltip.visibility === "visible", `${name}: tooltip visible on hover`);
  check(tooltip.background === "rgb(45, 55, 72)", `${name}: tooltip background ${tooltip.background} is #2d3748`);
  check(tooltip.pointer === "none", `${name}: tooltip ignores the pointer`);
  check(tooltip.whiteSpace === "normal" && tooltip.position === "absolute" && parseFloat(tooltip.bottom) > 0,
        `${name}: tooltip wraps and sits above the button (bottom ${tooltip.bottom})`);
  const tip = await tooltipBox(page);
  const covered = (await boxes(page, ["#input", "#send"])).filter((b) => intersects(tip, b)).map((b) => b.name);
  check(covered.length === 0 && tip.height > 0, `${name}: the tooltip covers neither the input nor Send (covers: ${covered.join(", ") || "nothing"})`);
  const buttonBox = await button.boundingBox();
  check(buttonBox.x + buttonBox.width > 900 && buttonBox.y + buttonBox.height > 650, `${name}: button group at the bottom right`);
  check(await button.getAttribute("role") === "status" && await button.getAttribute("aria-live") === "polite",
        `${name}: announced to screen readers (role=status, aria-live=polite)`);
  const accessibleName = await button.getAttribute("aria-label");
  check(accessibleName.includes(status.tooltip), `${name}: accessible name carries the detail`);
  check(await button.evaluate((el) => el.tabIndex < 0 && el.tagName !== "BUTTON" && !el.onclick), `${name}: not interactive`);
  await page.screenshot({ path: join(args.artifacts, `${name}.png`) });
  await page.mouse.move(5, 5);
}

async function checkStreamedReply(page, name) {
  await page.fill("#input", "What is a fraction?");
  await page.press("#input", "Enter");
  const reply = page.locator(".message.assistant").last();
  await reply.waitFor({ timeout: 10000 });
  const lengths = new Set();
  let stopEnabled = false;
  const deadline = Date.now() + 180000;  // up to 512 tokens on a 2-core machine shared with other builds
  while (Date.now() < deadline) {
    const state = await reply.evaluate((el) => ({ done: el.dataset.done === "true", length: (el.dataset.raw || "").length }));
    lengths.add(state.length);
    stopEnabled ||= await page.locator("#stop").isEnabled();
    if (state.done) break;
    await sleep(25);
  }
  const final = await reply.evaluate((el) => ({ done: el.dataset.done === "true", text: el.dataset.raw || "", error: el.classList.contains("error") }));
  check(final.done && !final.error && final.text.length > 0,
        `${name}: a reply arrived (${final.text.length} characters, done ${final.done}, error ${final.error})`);
  check(lengths.size >= 3, `${name}: the reply grew while streaming (${lengths.size} distinct lengths seen)`);
  check(stopEnabled, `${name}: stop button enabled while streaming`);
  await page.screenshot({ path: join(args.artifacts, `${name}-reply.png`) });
}

async function checkOutputIsText(page, name) {
  const hostile = 'Here: <img src=x onerror="window.__xss=1"> and <script>window.__xss=2</script> ' +
    '[link](javascript:window.__xss=3) and math $x^2$ and $$\\frac{a}{b}$$';
  const result = await page.evaluate((text) => {
    const message = window.MimirChat.addMessage("assistant", text);
    return { text: message.querySelector(".content").textContent, images: message.querySelectorAll("img").length,
             scripts: message.querySelectorAll("script").length, katex: message.querySelectorAll(".katex").length,
             javascriptLinks: [...message.querySelectorAll("a")].filter((a) => /^javascript:/i.test(a.getAttribute("href") || "")).length };
  }, hostile);
  await sleep(300);
  const xss = await page.evaluate(() => window.__xss);
  check(xss === undefined, `${name}: model output ran no script`);
  check(result.images === 0 && result.scripts === 0 && result.javascriptLinks === 0, `${name}: no img, script or javascript: link elements`);
  check(result.text.includes('<img src=x onerror="window.__xss=1">') && result.text.includes("<script>window.__xss=2</script>"),
        `${name}: the HTML is shown as text`);
  check(result.katex === 2, `${name}: LaTeX rendered by KaTeX (${result.katex} formulas)`);
  await page.screenshot({ path: join(args.artifacts, `${name}-sanitized.png`) });
}

// Stop cancels the generation on the server; Copy puts the last reply on the clipboard; Clear empties the
// conversation.
async function checkControls(page, server, name) {
  const metric = async (line) => {
    const text = await (await fetch(server.url + "/metrics")).text();
    const found = text.split("\n").find((l) => l.startsWith(line + " "));
    return found ? Number(found.split(" ")[1]) : -1;
  };
  await page.fill("#input", "Tell me everything about triangles.");
  await page.press("#input", "Enter");
  const reply = page.locator(".message.assistant").last();
  await page.waitForFunction(() => {
    const r = [...document.querySelectorAll(".message.assistant")].pop();
    return r && (r.dataset.raw || "").length > 0;
  }, null, { timeout: 10000 });
  await page.click("#stop");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop().dataset.done === "true", null, { timeout: 5000 });
  let disconnects = -1, active = -1;
  for (let i = 0; i < 50; i++) {
    [disconnects, active] = [await metric("mimir_client_disconnects_total"), await metric("mimir_active_generations")];
    if (disconnects >= 1 && active === 0) break;
    await sleep(50);
  }
  check(disconnects >= 1 && active === 0, `${name}: Stop cancels the generation on the server (disconnects ${disconnects}, active ${active})`);
  const stoppedText = await reply.evaluate((el) => el.dataset.raw);
  await sleep(300);
  check((await reply.evaluate((el) => el.dataset.raw)) === stoppedText, `${name}: the reply stops growing after Stop`);
  await page.click("#copy");
  await sleep(200);
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  check(clipboard === stoppedText && clipboard.length > 0, `${name}: Copy puts the last reply on the clipboard`);
  await page.click("#clear");
  check((await page.locator(".message").count()) === 0, `${name}: Clear empties the conversation`);
}

async function runState({ name, env, state, port, extra }) {
  console.log(`state ${name}`);
  const server = await startServer(env, port);
  let page;
  try {
    check(server.status.state === state, `${name}: /api/status state ${server.status.state}`);
    page = await openPage(server.url);
    await checkButton(page.page, state, server.status, name);
    if (extra) await extra(page.page, server);
    check(page.problems.length === 0, `${name}: no console errors or CSP violations ${page.problems.join("; ")}`);
  } catch (e) {
    check(false, `${name}: ${e.stack || e}`);
    console.log(server.log().split("\n").slice(-15).join("\n"));
  } finally {
    if (page) await page.close();
    await stopServer(server);
  }
}

async function main() {
  mkdirSync(args.artifacts, { recursive: true });
  const m = args.models;
  const base = join(m, "base.gguf"), fineTuned = join(m, "fine-tuned.gguf"), adapter = join(m, "adapter.gguf");
  const corrupt = join(m, "corrupt.gguf"), switching = join(m, "switching-fine-tuned.gguf");
  const port = 17860 + Math.floor(Math.random() * 1000);
  const started = Date.now();

  await runState({ name: "fine-tuned", state: "success", port, env: { MIMIR_FINE_TUNED: fineTuned, MIMIR_BASE: base },
    extra: async (page) => { await checkStreamedReply(page, "fine-tuned"); await checkOutputIsText(page, "fine-tuned"); } });
  await runState({ name: "adapter", state: "success", port: port + 1, env: { MIMIR_ADAPTER: adapter, MIMIR_BASE: base },
    extra: async (page, server) => checkControls(page, server, "adapter") });
  copyFileSync(corrupt, switching);
  await runState({ name: "fallback", state: "warning", port: port + 2, env: { MIMIR_FINE_TUNED: switching, MIMIR_BASE: base },
    extra: async (page, server) => {
      // Swap a good model in (by rename, as a server started with --mmap needs) and reload: the button
      // turns green without a page refresh.
      copyFileSync(fineTuned, switching + ".new");
      renameSync(switching + ".new", switching);
      const reload = await fetch(server.url + "/api/models/reload", { method: "POST", headers: { Authorization: "Bearer " + API_KEY } });
      check(reload.status === 200, "fallback: reload with the API key answers 200");
      const status = await (await fetch(server.url + "/api/status")).json();
      const navigations = await page.evaluate(() => performance.getEntriesByType("navigation").length);
      await checkButton(page, "success", status, "after-reload");
      check(navigations === 1 && (await page.evaluate(() => performance.getEntriesByType("navigation").length)) === 1,
            "after-reload: updated without a page refresh");
    } });
  await runState({ name: "error", state: "error", port: port + 3, env: { MIMIR_BASE: join(m, "missing.gguf") },
    extra: async (page, server) => {
      const detail = server.status.tooltip.slice("Error: ".length);
      check(server.status.tooltip.startsWith("Error: ") && [...detail].length <= 50, `error: tooltip error part is ${[...detail].length} <= 50 characters`);
      check(server.status.error.length > 50 && detail.endsWith("..."), "error: a longer error is cut with an ellipsis");
    } });
  console.log(`status page tests: ${failureCount() === 0 ? "passed" : failureCount() + " failed"} in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${args.artifacts}`);
  process.exit(failureCount() === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
