// Browser tests of the learning loop's pages against a real `mimir serve --data` (SQLite in a temporary
// folder): thumbs on a reply; "Improve this answer" with a rewrite the evaluation checks flag, an error
// that keeps the text, and the confirmation; the same form by keyboard alone; the form and the status
// tooltip on a 375x667 phone screen; the review view (/review): a wrong key refused, stored HTML and
// script shown as text, approve / edit / reject, filters and paging; and end to end, the approved rewrite
// found in the CSV `mimir dataset export` writes.
// Usage: node feedback_page.mjs --mimir PATH --models DIR --artifacts DIR
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { API_KEY, boxes, check, fail, failureCount, intersects, openPage, sleep, startServer, stopServer, tooltipBox }
  from "./harness.mjs";

const { values: args } = parseArgs({ options: { mimir: { type: "string" }, models: { type: "string" }, artifacts: { type: "string" } } });
const QUESTION = "Browser test: what does the bottom number of a fraction count?";
const FOLLOW_UP = "Browser test: and the top number?";
const REWRITE = "Good question :) Think of a pizza cut into equal slices. What could the bottom number tell you about the slices?";
const EDITED = "Picture a pizza cut into equal slices. What might the bottom number say about them?";
const chatReady = () => window.MimirFeedback && window.MimirStatus && document.getElementById("status-button").dataset.state;
const notRun = [];

async function api(server, method, path, body, key = API_KEY) {
  const response = await fetch(server.url + path, {
    method, headers: { "Content-Type": "application/json", ...(key ? { Authorization: "Bearer " + key } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await response.json(); } catch (e) { /* no body */ }
  return { status: response.status, body: json };
}

// Sends `text` from the composer, stops the reply once it has a few words (a stopped reply can be flagged
// like a finished one; the status page tests cover whole replies) and waits for its feedback controls.
async function ask(page, text) {
  const before = await page.locator(".message.assistant").count();
  await page.fill("#input", text);
  await page.press("#input", "Enter");
  await page.waitForFunction((n) => {
    const replies = document.querySelectorAll(".message.assistant");
    return replies.length > n && (replies[replies.length - 1].dataset.raw || "").length >= 40;
  }, before, { timeout: 60000 });
  if (await page.locator("#stop").isEnabled()) await page.click("#stop");
  await page.waitForFunction(() => [...document.querySelectorAll(".message.assistant")].pop().querySelector(".feedback-bar"), null, { timeout: 10000 });
  return page.locator(".message.assistant").last();
}

// A textarea's value has CR LF and CR turned into LF.
const asTextarea = (text) => text.replace(/\r\n?/g, "\n");

async function checkThumbs(page, server, reply) {
  const posts = [];
  page.on("request", (r) => { if (r.method() === "POST" && new URL(r.url()).pathname === "/api/feedback") posts.push(r); });
  const status = reply.locator(".feedback-status");
  await reply.locator(".thumb-down").click();
  await page.waitForFunction((el) => el.textContent.length > 0 && !el.textContent.startsWith("Sending"), await status.elementHandle(), { timeout: 10000 });
  check((await status.textContent()) === "Thanks for the feedback.", `thumbs down: quiet confirmation (${await status.textContent()})`);
  check(await reply.locator(".thumb-down").getAttribute("aria-pressed") === "true", "thumbs down: pressed");
  await reply.locator(".thumb-down").click();
  await reply.locator(".thumb-up").click();
  await sleep(400);
  check(posts.length === 1, `thumbs: a second click sends nothing (${posts.length} request)`);
  check((await status.textContent()) === "Thanks for the feedback." && await reply.locator(".thumb-up").getAttribute("aria-pressed") === "false",
        "thumbs: a second click changes nothing");
  const listed = await api(server, "GET", "/api/feedback?rating=down&limit=50");
  const row = listed.status === 200 && listed.body.items.find((r) => r.prompt === QUESTION);
  const raw = await reply.evaluate((el) => el.dataset.raw);
  check(row && row.model_response === raw && row.ideal_response === "" && row.rating === "down",
        `thumbs down: stored with the prompt, the reply and no rewrite (HTTP ${listed.status})`);
  return row ? row.id : 0;
}

async function checkImproveForm(page, server, reply) {
  const improve = reply.locator(".improve");
  await improve.click();
  const form = reply.locator(".feedback-form");
  await form.waitFor({ state: "visible", timeout: 5000 });
  check(await improve.getAttribute("aria-expanded") === "true" && await improve.getAttribute("aria-controls") === await form.getAttribute("id"),
        "improve: the button says it opened the form (aria-expanded, aria-controls)");
  const categories = (await api(server, "GET", "/api/feedback/categories", undefined, "")).body.issues;
  await page.waitForFunction((el) => el.querySelector(".feedback-issue-list input"), await form.elementHandle(), { timeout: 5000 });
  const names = await form.locator(".feedback-issue input").evaluateAll((boxes) => boxes.map((b) => b.value));
  check(JSON.stringify(names) === JSON.stringify(categories), `improve: the issue checkboxes are the server's categories (${names.join(", ")})`);
  const raw = await reply.evaluate((el) => el.dataset.raw);
  check(await form.locator(".feedback-ideal").inputValue() === asTextarea(raw), "improve: the ideal response starts as the reply");
  check(await form.evaluate((f) => [...f.querySelectorAll("input, textarea")].every((c) => c.labels.length > 0)), "improve: every field has a label");
  await form.locator(".feedback-issue input").first().check();
  await form.locator(".feedback-ideal").fill(REWRITE);
  const failure = form.locator('.feedback-checks li[data-check="tone.no_emoticons"]');
  try {
    await failure.waitFor({ timeout: 8000 });
    check((await failure.textContent()).startsWith("Tone: no emoticons"), `improve: the emoticon check failure is shown by the field: ${await failure.textContent()}`);
  } catch (e) { fail("improve: the emoticon check failure is shown by the field"); }
  await form.screenshot({ path: join(args.artifacts, "feedback-form.png") });
  await page.screenshot({ path: join(args.artifacts, "feedback-form-page.png") });

  // A refused submission (the body is over the server's limit) shows the server's message and keeps the text.
  await form.locator(".feedback-notes").fill("x".repeat(1100 * 1024));
  await form.locator('button[type="submit"]').click();
  const result = form.locator(".feedback-result");
  await page.waitForFunction((el) => el.textContent.length > 0, await result.elementHandle(), { timeout: 10000 });
  check((await result.textContent()).startsWith("Not saved:"), `improve: a refused submission shows the error: ${(await result.textContent()).slice(0, 120)}`);
  check(await form.locator(".feedback-ideal").inputValue() === REWRITE && await form.isVisible(), "improve: the refused text is kept");

  await form.locator(".feedback-notes").fill("Too chatty; hint, do not tell.");
  await form.locator('button[type="submit"]').click();
  const status = reply.locator(".feedback-status");
  await page.waitForFunction((el) => el.textContent.startsWith("Thanks, saved"), await status.elementHandle(), { timeout: 10000 });
  const id = Number(/#(\d+)/.exec(await status.textContent())[1]);
  check(id > 0 && !(await reply.locator(".feedback-form").count()), `improve: "${await status.textContent()}" and the form closes`);
  check(await page.evaluate(() => document.activeElement.classList.contains("improve")), "improve: focus returns to the button");
  const stored = await api(server, "GET", "/api/feedback/" + id);
  const record = stored.body || {};
  check(stored.status === 200 && record.prompt === QUESTION && record.model_response === raw && record.ideal_response === REWRITE &&
        JSON.stringify(record.issues) === JSON.stringify([categories[0]]) && record.notes === "Too chatty; hint, do not tell." &&
        record.rating === "down" && Array.isArray(record.conversation) && record.conversation.length === 0,
        `improve: stored as sent (HTTP ${stored.status})`);
  const emoticon = (record.checks || []).find((c) => c.name === "tone.no_emoticons");
  check(emoticon && emoticon.passed === false, "improve: the row keeps the failed check");
  return id;
}

// Keyboard only, on the second reply: Shift+Tab from the input reaches "Improve this answer", Enter opens,
// Space ticks, Escape closes and gives focus back, Tab walks the fields, Enter sends.
async function checkKeyboard(page, server, reply) {
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el.classList.contains("improve") ? "improve" : el.className || el.tagName;
  });
  await page.focus("#input");
  await page.keyboard.press("Shift+Tab");
  check(await reply.evaluate((el) => document.activeElement === el.querySelector(".improve")), "keyboard: Shift+Tab from the input reaches Improve this answer");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.activeElement && document.activeElement.matches(".feedback-issue input"), null, { timeout: 5000 });
  check(true, "keyboard: Enter opens the form and focuses the first issue");
  await page.keyboard.press("Space");
  await page.keyboard.press("Escape");
  check(await reply.locator(".feedback-form").isHidden() && (await focused()) === "improve" &&
        await reply.locator(".improve").getAttribute("aria-expanded") === "false", "keyboard: Escape closes the form and focus returns to the button");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.activeElement && document.activeElement.matches(".feedback-issue input"), null, { timeout: 5000 });
  check(await reply.locator(".feedback-issue input").first().isChecked(), "keyboard: reopened, the form kept the ticked issue");
  let presses = 0;
  while ((await focused()) !== "feedback-notes" && presses++ < 12) await page.keyboard.press("Tab");
  check((await focused()) === "feedback-notes", `keyboard: Tab reaches Notes (${presses} presses)`);
  await page.keyboard.type("Typed with the keyboard.");
  await page.keyboard.press("Tab");
  check((await focused()) === "feedback-ideal", "keyboard: Tab reaches the ideal response");
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type("What do you think the top number counts?");
  await page.keyboard.press("Tab");
  check((await focused()) === "primary", "keyboard: Tab reaches Send feedback");
  await page.keyboard.press("Enter");
  const status = reply.locator(".feedback-status");
  await page.waitForFunction((el) => el.textContent.startsWith("Thanks, saved"), await status.elementHandle(), { timeout: 10000 });
  check((await focused()) === "improve", `keyboard: submitted (${await status.textContent()}), focus back on the button`);
  const id = Number(/#(\d+)/.exec(await status.textContent())[1]);
  const record = (await api(server, "GET", "/api/feedback/" + id)).body || {};
  check(record.prompt === FOLLOW_UP && record.notes === "Typed with the keyboard." && record.rating === "none" &&
        record.conversation.length === 2 && record.conversation[0].content === QUESTION && record.conversation[1].role === "assistant",
        "keyboard: stored with the turns before the prompt as the conversation");
}

async function checkPhone(server) {
  const phone = await openPage(server.url, { viewport: { width: 375, height: 667 }, ready: chatReady });
  const page = phone.page;
  try {
    await page.locator("#status-button").hover();
    await sleep(300);
    const tip = await tooltipBox(page);
    const covered = (await boxes(page, ["#input", "#send"])).filter((b) => intersects(tip, b)).map((b) => b.name);
    check(tip.height > 0 && covered.length === 0 && tip.left >= 0 && tip.top >= 0,
          `phone: the status tooltip covers neither the input nor Send and stays on screen (covers: ${covered.join(", ") || "nothing"})`);
    await page.screenshot({ path: join(args.artifacts, "phone-tooltip.png") });
    const [group, input, send] = await boxes(page, [".button-group", "#input", "#send"]);
    check(!intersects(group, input) && !intersects(group, send) && group.left >= 0 && group.right <= 375,
          "phone: the button group sits below the composer, on screen");
    await page.mouse.move(5, 5);
    const reply = await ask(page, QUESTION);
    // A store that is down: the thumb shows the server's message, stays unpressed, and works once it is back.
    await page.route("**/api/feedback", (route) => route.fulfill({ status: 503, contentType: "application/json",
      body: JSON.stringify({ error: { message: "the feedback store is unavailable", type: "server_error", code: "store_unavailable" } }) }));
    const status = reply.locator(".feedback-status");
    await reply.locator(".thumb-up").click();
    await page.waitForFunction((el) => el.textContent.startsWith("Not saved"), await status.elementHandle(), { timeout: 5000 });
    check((await status.textContent()) === "Not saved: the feedback store is unavailable" && await reply.locator(".thumb-up").getAttribute("aria-pressed") === "false",
          `phone: a failed rating shows the error (${await status.textContent()})`);
    await page.unroute("**/api/feedback");
    await reply.locator(".thumb-up").click();
    await page.waitForFunction((el) => el.textContent.startsWith("Thanks"), await status.elementHandle(), { timeout: 10000 });
    check(await reply.locator(".thumb-up").getAttribute("aria-pressed") === "true", "phone: the rating goes through on a second try");
    await reply.locator(".improve").click();
    const form = reply.locator(".feedback-form");
    await page.waitForFunction(() => document.activeElement && document.activeElement.matches(".feedback-issue input"), null, { timeout: 5000 });
    const layout = await page.evaluate(() => {
      const form = document.querySelector(".feedback-form");
      const parts = [form, ...form.querySelectorAll("*")].map((el) => el.getBoundingClientRect()).filter((r) => r.width > 0);
      return { scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
               left: Math.min(...parts.map((r) => r.left)), right: Math.max(...parts.map((r) => r.right)),
               formHeight: form.getBoundingClientRect().height, height: window.innerHeight };
    });
    check(layout.scrollWidth <= layout.width, `phone: no horizontal overflow (page ${layout.scrollWidth}px wide in ${layout.width}px)`);
    check(layout.left >= 0 && layout.right <= layout.width, `phone: the form and its fields fit the width (${layout.left.toFixed(0)} to ${layout.right.toFixed(0)})`);
    check(layout.formHeight <= layout.height, `phone: the form is shorter than the screen (${layout.formHeight.toFixed(0)} of ${layout.height}px)`);
    await form.evaluate((el) => el.scrollIntoView({ block: "start" }));
    await page.screenshot({ path: join(args.artifacts, "phone-feedback-form.png") });
    const problems = phone.problems.filter((p) => !p.includes("status of 503"));
    check(problems.length === 0, `phone: no console errors or CSP violations besides the refused rating ${problems.join("; ")}`);
  } finally {
    await phone.close();
  }
}

async function checkReview(server, ids) {
  const hostile = {
    prompt: "<script>window.__xss=1</script> what is 2+2?", model_response: '<img src=x onerror="window.__xss=2"> It is 4.',
    issues: [], notes: "<b>bold</b><script>window.__xss=3</script>", ideal_response: "<script>window.__xss=4</script>What do you get if you count on?",
    rating: "down", conversation: [{ role: "user", content: "<iframe src=javascript:window.__xss=5></iframe>" }, { role: "assistant", content: "Hi" }],
  };
  const created = await api(server, "POST", "/api/feedback", hostile, "");
  check(created.status === 201, `review: a submission with HTML and script stored (HTTP ${created.status})`);
  const hostileId = created.body && created.body.id;
  const review = await openPage(server.url, { path: "/review", ready: () => window.MimirCommon && document.getElementById("api-key") });
  const page = review.page;
  const row = (id) => page.locator(`li.submission[data-id="${id}"]`);
  try {
    await page.fill("#api-key", "wrong-key");
    await page.press("#api-key", "Enter");
    await page.waitForFunction(() => document.getElementById("key-error").textContent.length > 0, null, { timeout: 5000 });
    check((await page.textContent("#key-error")).includes("not accepted") && await page.locator("#review-list").isHidden(),
          `review: a wrong key is refused: ${await page.textContent("#key-error")}`);
    check(await page.evaluate(() => sessionStorage.length === 0), "review: a refused key is not kept");

    await page.fill("#api-key", API_KEY);
    await page.press("#api-key", "Enter");
    await row(hostileId).waitFor({ timeout: 5000 });
    check(await row(ids.flagged).count() === 1, `review: the flagged reply #${ids.flagged} is listed`);
    const order = await page.locator("li.submission").evaluateAll((items) => items.map((i) => Number(i.dataset.id)));
    check(order.every((id, i) => i === 0 || order[i - 1] > id), `review: newest first (${order.join(", ")})`);
    const shown = await row(hostileId).evaluate((el) => ({ text: el.textContent, scripts: el.querySelectorAll("script, img, iframe, b").length }));
    await sleep(300);
    check(shown.text.includes("<script>window.__xss=1</script>") && shown.text.includes("<b>bold</b><script>window.__xss=3</script>") &&
          shown.text.includes('<img src=x onerror="window.__xss=2">') && shown.scripts === 0,
          "review: stored HTML and <script> are shown as text");
    check(await page.evaluate(() => window.__xss === undefined), "review: no stored script ran");
    check(await page.evaluate((key) => sessionStorage.getItem("mimir.reviewApiKey") === key && localStorage.length === 0, API_KEY),
          "review: the key is kept in sessionStorage only");
    const flaggedText = await row(ids.flagged).textContent();
    check(flaggedText.includes(REWRITE) && flaggedText.includes("Tone: no emoticons") && flaggedText.includes("Too chatty"),
          "review: the row shows the rewrite, the failed check and the notes");
    await page.screenshot({ path: join(args.artifacts, "review-view.png"), fullPage: true });

    await row(ids.flagged).getByRole("button", { name: "Approve", exact: true }).click();
    await page.locator(`li.submission[data-id="${ids.flagged}"][data-state="approved"]`).waitFor({ timeout: 5000 });
    check(true, `review: #${ids.flagged} approved`);
    await row(hostileId).getByRole("button", { name: "Edit", exact: true }).click();
    await row(hostileId).locator("textarea").fill(EDITED);
    await row(hostileId).getByRole("button", { name: "Save and approve", exact: true }).click();
    await page.locator(`li.submission[data-id="${hostileId}"][data-state="approved"]`).waitFor({ timeout: 5000 });
    const edited = (await api(server, "GET", "/api/feedback/" + hostileId)).body || {};
    check(edited.state === "approved" && edited.ideal_response === EDITED, "review: edit then approve stores the new ideal response");
    await row(ids.thumbs).getByRole("button", { name: "Reject", exact: true }).click();
    await page.locator(`li.submission[data-id="${ids.thumbs}"][data-state="rejected"]`).waitFor({ timeout: 5000 });
    check(true, `review: #${ids.thumbs} rejected`);

    const listed = async () => { await page.waitForFunction(() => !document.getElementById("list-status").textContent.startsWith("Loading")); return page.locator("li.submission").evaluateAll((items) => items.map((i) => Number(i.dataset.id))); };
    await page.selectOption("#filter-state", "approved");
    let found = await listed();
    check(found.includes(ids.flagged) && found.includes(hostileId) && !found.includes(ids.thumbs), `review: state filter approved finds ${found.join(", ")}`);
    await page.selectOption("#filter-checks", "failed");
    await page.selectOption("#filter-rating", "down");
    await page.selectOption("#filter-issue", { index: 1 });
    found = await listed();
    check(found.length === 1 && found[0] === ids.flagged, `review: approved + down + failed checks + first issue finds only #${ids.flagged} (${found.join(", ")})`);
    await page.screenshot({ path: join(args.artifacts, "review-filtered.png"), fullPage: true });

    await page.goto(server.url + "/review?limit=1");
    await page.waitForFunction(() => document.querySelectorAll("li.submission").length === 1, null, { timeout: 5000 });
    await page.selectOption("#filter-state", "");
    await page.waitForFunction(() => document.querySelectorAll("li.submission").length === 1 && !document.getElementById("load-more").hidden, null, { timeout: 5000 });
    await page.click("#load-more");
    await page.waitForFunction(() => document.querySelectorAll("li.submission").length === 2, null, { timeout: 5000 });
    const paged = await listed();
    check(paged.length === 2 && paged[0] > paged[1], `review: Load more appends the next page (${paged.join(", ")}), the key kept across the reload`);
    // The one expected error: the browser logs the refused (401) wrong key.
    const problems = review.problems.filter((p) => !p.includes("status of 401"));
    check(problems.length === 0, `review: no console errors or CSP violations besides the refused key ${problems.join("; ")}`);
  } finally {
    await review.close();
  }
}

// `mimir dataset export` writes the approved rewrite into the CSV.
function checkExport(store, folder) {
  const help = spawnSync(args.mimir, ["dataset", "--help"], { encoding: "utf8" });
  if (!/^\s+export\s/m.test(help.stdout || "")) {
    notRun.push("export (mimir dataset export is not in this build)");
    console.log("  NOT RUN  end to end: `mimir dataset --help` lists no export subcommand");
    return;
  }
  const out = join(folder, "export.csv");
  const run = spawnSync(args.mimir, ["dataset", "export", "--data", store, "--out", out], { encoding: "utf8" });
  check(run.status === 0 && existsSync(out), `end to end: mimir dataset export exits 0 (${(run.stderr || "").trim().split("\n").pop()})`);
  const csv = existsSync(out) ? readFileSync(out, "utf8") : "";
  check(csv.includes(QUESTION) && csv.includes(REWRITE), "end to end: the flagged and approved rewrite is in the CSV");
}

async function main() {
  mkdirSync(args.artifacts, { recursive: true });
  const folder = mkdtempSync(join(tmpdir(), "mimir-feedback-"));
  const store = join(folder, "feedback.db");
  const port = 18860 + Math.floor(Math.random() * 1000);
  const started = Date.now();
  const server = await startServer(args.mimir, { MIMIR_FINE_TUNED: join(args.models, "fine-tuned.gguf"), MIMIR_BASE: join(args.models, "base.gguf") },
                                   port, ["--data", store]);
  const ids = {};
  let chat;
  try {
    console.log("chat page feedback");
    chat = await openPage(server.url, { ready: chatReady });
    const reply = await ask(chat.page, QUESTION);
    check((await reply.locator(".feedback-bar button").count()) === 3, "reply: thumbs up, thumbs down and Improve this answer");
    ids.thumbs = await checkThumbs(chat.page, server, reply);
    ids.flagged = await checkImproveForm(chat.page, server, reply);
    const second = await ask(chat.page, FOLLOW_UP);
    await checkKeyboard(chat.page, server, second);
    // The one expected error: the browser logs the deliberately refused (413) submission.
    const problems = chat.problems.filter((p) => !p.includes("status of 413"));
    check(problems.length === 0, `chat: no console errors or CSP violations besides the refused submission ${problems.join("; ")}`);
    await chat.close();
    chat = null;
    console.log("phone");
    await checkPhone(server);
    console.log("review view");
    await checkReview(server, ids);
    console.log("end to end");
    checkExport(store, folder);
  } catch (e) {
    fail(`feedback: ${e.stack || e}`);
    console.log(server.log().split("\n").slice(-15).join("\n"));
  } finally {
    if (chat) await chat.close();
    await stopServer(server);
    rmSync(folder, { recursive: true, force: true });
  }
  const summary = failureCount() === 0 ? "passed" : failureCount() + " failed";
  console.log(`feedback page tests: ${summary}${notRun.length ? "; not run: " + notRun.join(", ") : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${args.artifacts}`);
  process.exit(failureCount() === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
