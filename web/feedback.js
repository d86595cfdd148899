// Feedback on a reply, in the chat page: thumbs up / down (POST /api/feedback with the rating alone) and
// "Improve this answer", a form under the reply with the issue categories, notes and the ideal response,
// prefilled with the reply. The ideal response is checked by the server's evaluation checks while it is
// edited (POST /api/feedback/check); failures are shown beside it but never block sending. Everything the
// server or the person wrote goes in as text, never as HTML.
"use strict";

(function () {
  const { element } = window.MimirCommon;
  const CHECK_DELAY_MS = 400;
  const THUMB_PATH = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
    "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";
  let formCount = 0;
  let categories = null;  // promise of the issue categories, fetched once per page

  function thumbIcon(rating) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.classList.add("thumb-icon", "thumb-icon-" + rating);
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB_PATH);
    svg.appendChild(path);
    return svg;
  }

  function loadCategories() {
    if (!categories) {
      categories = window.MimirCommon.requestJson("GET", "/api/feedback/categories").then((body) => {
        if (!body || !Array.isArray(body.issues)) throw new Error("the server sent no issue list");
        return body.issues.map(String);
      });
      categories.catch(() => { categories = null; });  // try again on the next form
    }
    return categories;
  }

  function setStatus(node, text, kind) {
    node.textContent = text;
    node.classList.toggle("feedback-error", kind === "error");
  }

  // Adds the feedback controls to a finished reply. `turn` is {prompt, modelResponse, conversation}: the
  // student's message the reply answered, the reply, and the turns before that message.
  function attach(reply, turn) {
    const state = { rating: "none", rated: false, sending: false, form: null };
    const status = element("span", { className: "feedback-status", role: "status", "aria-live": "polite" });
    const thumbs = ["up", "down"].map((rating) => {
      const button = element("button", {
        type: "button", className: "thumb thumb-" + rating, "aria-pressed": "false",
        "aria-label": rating === "up" ? "Good reply" : "Bad reply",
        title: rating === "up" ? "Good reply" : "Bad reply",
      }, [thumbIcon(rating)]);
      button.dataset.rating = rating;
      button.addEventListener("click", () => rate(rating, button));
      return button;
    });
    const improve = element("button", { type: "button", className: "improve", text: "Improve this answer",
                                        "aria-expanded": "false" });
    improve.addEventListener("click", () => (state.form && !state.form.node.hidden ? closeForm() : openForm()));
    const bar = element("div", { className: "feedback-bar", role: "group", "aria-label": "Feedback on this reply" },
                        [...thumbs, improve, status]);
    reply.appendChild(bar);

    function submission(extra) {
      return { prompt: turn.prompt, model_response: turn.modelResponse, issues: [], notes: "", ideal_response: "",
               rating: state.rating, conversation: turn.conversation, ...extra };
    }

    // A rating is sent once; later clicks on either thumb do nothing.
    async function rate(rating, button) {
      if (state.rated || state.sending) return;
      state.sending = true;
      setStatus(status, "Sending...");
      try {
        await window.MimirCommon.requestJson("POST", "/api/feedback", { body: submission({ rating }) });
        state.rated = true;
        state.rating = rating;
        button.setAttribute("aria-pressed", "true");
        for (const thumb of thumbs) thumb.classList.add("thumb-done");
        setStatus(status, "Thanks for the feedback.");
      } catch (e) {
        setStatus(status, "Not saved: " + e.message, "error");
      } finally {
        state.sending = false;
      }
    }

    function openForm() {
      if (!state.form) {
        state.form = buildForm(turn, {
          onClose: closeForm,
          send: async (fields) => {
            const body = await window.MimirCommon.requestJson("POST", "/api/feedback", { body: submission(fields) });
            state.form.node.remove();
            state.form = null;
            improve.setAttribute("aria-expanded", "false");
            improve.removeAttribute("aria-controls");
            setStatus(status, "Thanks, saved (#" + body.id + ")");
            improve.focus();
          },
        });
        improve.setAttribute("aria-controls", state.form.node.id);
        bar.after(state.form.node);
      }
      state.form.node.hidden = false;
      improve.setAttribute("aria-expanded", "true");
      state.form.opened();
    }

    function closeForm() {
      if (!state.form) return;
      state.form.node.hidden = true;  // kept, with what was typed, until it is sent
      improve.setAttribute("aria-expanded", "false");
      improve.focus();
    }
  }

  function buildForm(turn, { onClose, send }) {
    const id = "feedback-" + ++formCount;
    const title = element("h3", { id: id + "-title", className: "feedback-title", text: "Improve this answer" });
    const issues = element("fieldset", { className: "feedback-issues" },
                           [element("legend", { text: "What is wrong with it?" })]);
    const issueList = element("div", { className: "feedback-issue-list" });
    const issuesNote = element("p", { className: "feedback-hint", text: "Loading the categories..." });
    issues.append(issueList, issuesNote);
    const notes = element("textarea", { id: id + "-notes", rows: 2, className: "feedback-notes" });
    const ideal = element("textarea", { id: id + "-ideal", rows: 6, className: "feedback-ideal",
                                        "aria-describedby": id + "-hint " + id + "-checks" });
    ideal.value = turn.modelResponse;
    const checks = element("div", { id: id + "-checks", className: "feedback-checks", "aria-live": "polite" });
    const submit = element("button", { type: "submit", className: "primary", text: "Send feedback" });
    const cancel = element("button", { type: "button", text: "Cancel" });
    const result = element("p", { className: "feedback-result feedback-error", role: "alert" });
    const node = element("form", { id, className: "feedback-form", "aria-labelledby": id + "-title", noValidate: true }, [
      title, issues,
      element("label", { htmlFor: id + "-notes", text: "Notes" }), notes,
      element("label", { htmlFor: id + "-ideal", text: "Ideal response" }),
      element("p", { id: id + "-hint", className: "feedback-hint",
                     text: "Rewrite it as a good tutor would. Checks run as you type; you can send even if one fails." }),
      ideal, checks,
      element("div", { className: "feedback-actions" }, [submit, cancel]), result,
    ]);

    const categoriesLoaded = loadCategories().then((names) => {
      for (const name of names) {
        const box = element("input", { type: "checkbox", value: name, id: id + "-issue-" + issueList.childElementCount });
        issueList.appendChild(element("label", { className: "feedback-issue" }, [box, document.createTextNode(" " + name)]));
      }
      issuesNote.remove();
    }, (e) => {
      issuesNote.textContent = "The categories could not be loaded: " + e.message;
      issuesNote.classList.add("feedback-error");
    });

    let timer = 0, sequence = 0, controller = null;
    async function runChecks() {
      const mine = ++sequence;
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const body = await window.MimirCommon.requestJson("POST", "/api/feedback/check", {
          body: { prompt: turn.prompt, ideal_response: ideal.value }, signal: controller.signal });
        if (mine === sequence) showChecks(checks, body);
      } catch (e) {
        if (e.name !== "AbortError" && mine === sequence) {
          checks.replaceChildren(element("p", { className: "feedback-hint", text: "The text could not be checked: " + e.message }));
        }
      }
    }
    ideal.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(runChecks, CHECK_DELAY_MS);
    });

    node.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        onClose();
      }
    });
    cancel.addEventListener("click", onClose);
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (submit.disabled) return;
      submit.disabled = true;
      submit.textContent = "Sending...";
      result.textContent = "";
      try {
        await send({
          issues: [...issueList.querySelectorAll("input:checked")].map((box) => box.value),
          notes: notes.value,
          ideal_response: ideal.value,
        });
      } catch (e) {
        result.textContent = "Not saved: " + e.message + " Your text is kept; you can send it again.";
      } finally {
        submit.disabled = false;
        submit.textContent = "Send feedback";
      }
    });

    let checkedOnce = false;
    async function opened() {
      if (!checkedOnce) { checkedOnce = true; runChecks(); }
      await categoriesLoaded;
      if (node.hidden) return;
      const first = issueList.querySelector("input") || notes;
      first.focus();
      node.scrollIntoView({ block: "nearest" });
    }
    return { node, opened };
  }

  function showChecks(container, body) {
    const failing = (Array.isArray(body && body.checks) ? body.checks : []).filter((c) => !c.passed);
    if (failing.length === 0) {
      container.replaceChildren(element("p", { className: "feedback-hint feedback-ok", text: "All checks pass." }));
      return;
    }
    const list = element("ul", { className: "feedback-failed-checks" });
    for (const check of failing) {
      const item = element("li", {}, [
        element("span", { className: "check-name", text: window.MimirCommon.checkLabel(check.name) }),
        document.createTextNode(check.reason ? ": " + check.reason : ""),
      ]);
      item.dataset.check = String(check.name);
      list.appendChild(item);
    }
    container.replaceChildren(
      element("p", { className: "feedback-hint", text: failing.length === 1 ? "1 check fails:" : failing.length + " checks fail:" }),
      list);
  }

  window.MimirFeedback = { attach };
})();
