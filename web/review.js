// The review view (/review): lists feedback submissions newest first, filtered and a page at a time, and
// approves, edits or rejects them through the review endpoints. The admin API key is asked for once and
// kept in sessionStorage (this tab only). Every stored text is inserted with textContent, never as HTML,
// so a submission containing markup or script shows as the text it is.
"use strict";

(function () {
  const { element } = window.MimirCommon;
  const KEY_STORAGE = "mimir.reviewApiKey";
  // Submissions per page; /review?limit=N asks for another size (1 to 100).
  const PAGE_SIZE = Math.min(100, Math.max(1, Number(new URLSearchParams(location.search).get("limit")) || 20));
  const STATE_NAMES = { pending: "Pending", approved: "Approved", rejected: "Rejected" };
  const RATING_NAMES = { up: "Thumbs up", down: "Thumbs down", none: "None" };
  let apiKey = "";
  let nextBefore = null;
  let listGeneration = 0;  // a newer list request makes older answers stale

  const $ = (id) => document.getElementById(id);

  function api(method, url, body) {
    return window.MimirCommon.requestJson(method, url, { body, headers: { Authorization: "Bearer " + apiKey } });
  }

  // A refused key sends the person back to the key form with a message that says so.
  function handleAuthError(error) {
    if (error.status !== 401 && error.status !== 403) return false;
    sessionStorage.removeItem(KEY_STORAGE);
    apiKey = "";
    $("review-list").hidden = true;
    $("forget-key").hidden = true;
    $("key-form").hidden = false;
    $("key-error").textContent = error.status === 401
      ? "The API key was not accepted (" + error.message + "). Check it and try again."
      : "Review is not available: " + error.message;
    $("api-key").focus();
    return true;
  }

  function filterQuery() {
    const params = new URLSearchParams();
    for (const [name, id] of [["state", "filter-state"], ["rating", "filter-rating"], ["issue", "filter-issue"],
                              ["checks", "filter-checks"]]) {
      if ($(id).value) params.set(name, $(id).value);
    }
    params.set("limit", String(PAGE_SIZE));
    return params;
  }

  async function loadPage(reset) {
    const generation = reset ? ++listGeneration : listGeneration;
    const params = filterQuery();
    if (!reset && nextBefore !== null) params.set("before", String(nextBefore));
    $("load-more").disabled = true;
    $("list-status").textContent = "Loading...";
    try {
      const body = await api("GET", "/api/feedback?" + params.toString());
      if (generation !== listGeneration) return;
      if (reset) $("submissions").replaceChildren();
      for (const record of body.items || []) $("submissions").appendChild(renderRecord(record));
      nextBefore = body.next_before === undefined ? null : body.next_before;
      $("load-more").hidden = nextBefore === null;
      const shown = $("submissions").childElementCount;
      $("list-status").textContent = shown === 0 ? "No submissions match these filters."
        : shown + (shown === 1 ? " submission" : " submissions") + " shown" + (nextBefore === null ? "." : "; there are more.");
      return true;
    } catch (e) {
      if (generation !== listGeneration) return;
      if (!handleAuthError(e)) $("list-status").textContent = "The list could not be loaded: " + e.message;
      return false;
    } finally {
      $("load-more").disabled = false;
    }
  }

  function field(list, label, value, className) {
    list.append(element("dt", { text: label }), element("dd", { className: className || "", text: value }));
  }

  function renderRecord(record) {
    const id = Number(record.id);
    const titleId = "submission-" + id;
    const state = String(record.state || "");
    const created = String(record.created_at || "");
    const heading = element("h3", { id: titleId, tabIndex: -1, text: "#" + id });
    const header = element("header", { className: "submission-header" }, [
      heading,
      element("span", { className: "badge state-" + state, text: STATE_NAMES[state] || state }),
      element("span", { text: "Rating: " + (RATING_NAMES[record.rating] || String(record.rating || "none")) }),
      element("span", { text: "Tier: " + String(record.tier || "unknown") }),
      element("time", { dateTime: created, text: created }),
    ]);
    const fields = element("dl", { className: "submission-fields" });
    const conversation = Array.isArray(record.conversation) ? record.conversation : [];
    if (conversation.length > 0) {
      const turns = element("details", {}, [element("summary", {
        text: conversation.length + (conversation.length === 1 ? " earlier turn" : " earlier turns") })]);
      for (const turn of conversation) {
        turns.appendChild(element("p", { className: "turn", text: String(turn.role) + ": " + String(turn.content) }));
      }
      fields.append(element("dt", { text: "Before" }), element("dd", {}, [turns]));
    }
    field(fields, "Prompt", String(record.prompt || ""), "text-block");
    field(fields, "Reply", String(record.model_response || ""), "text-block");
    field(fields, "Ideal response", record.ideal_response ? String(record.ideal_response) : "(none)", "text-block ideal-response");
    const issues = Array.isArray(record.issues) ? record.issues.map(String) : [];
    field(fields, "Issues", issues.length ? issues.join(", ") : "(none)");
    field(fields, "Notes", record.notes ? String(record.notes) : "(none)", "text-block");
    const checks = Array.isArray(record.checks) ? record.checks : [];
    const failed = checks.filter((c) => !c.passed);
    const checkList = element("ul", { className: "failed-checks" });
    for (const check of failed) {
      const item = element("li", {}, [element("span", { className: "check-name", text: window.MimirCommon.checkLabel(check.name) }),
                                      document.createTextNode(check.reason ? ": " + String(check.reason) : "")]);
      item.dataset.check = String(check.name);
      checkList.appendChild(item);
    }
    fields.append(element("dt", { text: "Failed checks" }),
                  element("dd", {}, failed.length ? [checkList] : [document.createTextNode(checks.length ? "(none: all passed)" : "(not checked)")]));
    if (record.model_hash) field(fields, "Model", String(record.model_hash).slice(0, 12), "hash");
    if (record.reviewed_at) field(fields, "Reviewed", String(record.reviewed_at));
    if (record.review_note) field(fields, "Review note", String(record.review_note), "text-block");

    const status = element("p", { className: "row-status", role: "status", "aria-live": "polite" });
    const note = element("input", { type: "text", id: titleId + "-note", className: "review-note" });
    const approve = element("button", { type: "button", className: "primary", text: "Approve" });
    const edit = element("button", { type: "button", text: "Edit", "aria-expanded": "false", "aria-controls": titleId + "-edit" });
    const reject = element("button", { type: "button", text: "Reject" });
    const actions = element("div", { className: "review-actions" }, [
      element("label", { htmlFor: titleId + "-note", text: "Note" }), note, approve, edit, reject]);
    const editor = element("textarea", { id: titleId + "-ideal", rows: 6 });
    const save = element("button", { type: "submit", className: "primary", text: "Save and approve" });
    const cancel = element("button", { type: "button", text: "Cancel" });
    const editForm = element("form", { id: titleId + "-edit", className: "edit-form", hidden: true, noValidate: true,
                                       "aria-label": "Edit the ideal response of #" + id }, [
      element("label", { htmlFor: titleId + "-ideal", text: "Ideal response" }), editor,
      element("div", { className: "review-actions" }, [save, cancel])]);
    const item = element("li", { className: "submission" }, [
      element("article", { "aria-labelledby": titleId }, [header, fields, actions, editForm, status])]);
    item.dataset.id = String(id);
    item.dataset.state = state;

    const buttons = [approve, edit, reject, save];
    async function decide(decision, label) {
      for (const b of buttons) b.disabled = true;
      status.textContent = "Saving...";
      status.classList.remove("review-error");
      try {
        const updated = await api("POST", "/api/feedback/" + id + "/review", { ...decision, note: note.value });
        const replacement = renderRecord(updated);
        item.replaceWith(replacement);
        replacement.querySelector(".row-status").textContent = label + ".";
        replacement.querySelector("h3").focus();
      } catch (e) {
        if (handleAuthError(e)) return;
        status.textContent = "Not saved: " + e.message;
        status.classList.add("review-error");
        for (const b of buttons) b.disabled = false;
      }
    }
    function closeEditor() {
      editForm.hidden = true;
      edit.setAttribute("aria-expanded", "false");
      edit.focus();
    }
    approve.addEventListener("click", () => decide({ state: "approved" }, "Approved"));
    reject.addEventListener("click", () => decide({ state: "rejected" }, "Rejected"));
    edit.addEventListener("click", () => {
      if (!editForm.hidden) { closeEditor(); return; }
      editor.value = String(record.ideal_response || record.model_response || "");
      editForm.hidden = false;
      edit.setAttribute("aria-expanded", "true");
      editor.focus();
    });
    cancel.addEventListener("click", closeEditor);
    editForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); closeEditor(); }
    });
    editForm.addEventListener("submit", (event) => {
      event.preventDefault();
      decide({ state: "approved", ideal_response: editor.value }, "Edited and approved");
    });
    return item;
  }

  async function loadIssueFilter() {
    try {
      const body = await window.MimirCommon.requestJson("GET", "/api/feedback/categories");
      const select = $("filter-issue");
      for (const name of body.issues || []) select.appendChild(element("option", { value: String(name), text: String(name) }));
    } catch (e) {
      $("list-status").textContent = "The issue categories could not be loaded: " + e.message;
    }
  }

  async function open(key) {
    apiKey = key;
    $("key-error").textContent = "";
    nextBefore = null;
    const loaded = await loadPage(true);
    if (!loaded && !apiKey) return;  // the key was refused and the key form is back
    sessionStorage.setItem(KEY_STORAGE, key);
    $("key-form").hidden = true;
    $("review-list").hidden = false;
    $("forget-key").hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    loadIssueFilter();
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) {
        $("key-error").textContent = "Enter the API key.";
        $("api-key").focus();
        return;
      }
      $("api-key").value = "";
      open(key);
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORAGE);
      apiKey = "";
      $("submissions").replaceChildren();
      $("review-list").hidden = true;
      $("forget-key").hidden = true;
      $("key-form").hidden = false;
      $("api-key").focus();
    });
    for (const id of ["filter-state", "filter-rating", "filter-issue", "filter-checks"]) {
      $(id).addEventListener("change", () => { nextBefore = null; loadPage(true); });
    }
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("load-more").addEventListener("click", () => loadPage(false));
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) open(saved);
    else $("api-key").focus();
  });
})();
