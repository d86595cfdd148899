// The chat: sends the conversation to /v1/chat/completions with stream: true and renders the reply as
// it arrives. Stop aborts the request (the server cancels the generation when the connection closes).
// A finished reply gets the feedback controls (feedback.js).
"use strict";

(function () {
  const conversation = [];   // {role, content} as sent to the API
  let controller = null;     // AbortController of the reply being streamed

  const $ = (id) => document.getElementById(id);

  function addMessage(role, text) {
    const element = document.createElement("article");
    element.className = "message " + role;
    element.setAttribute("aria-label", role === "user" ? "You" : "Mimir");
    const content = document.createElement("div");
    content.className = "content";
    element.appendChild(content);
    if (role === "assistant") {
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy-message";
      copy.textContent = "Copy";
      copy.setAttribute("aria-label", "Copy this reply");
      copy.addEventListener("click", () => copyText(element.dataset.raw || ""));
      element.appendChild(copy);
    }
    $("messages").appendChild(element);
    setMessageText(element, text);
    return element;
  }

  // User text is shown verbatim; assistant text is Markdown + LaTeX, sanitized by MimirRender.
  function setMessageText(element, text) {
    element.dataset.raw = text;
    const content = element.querySelector(".content");
    if (element.classList.contains("assistant")) window.MimirRender.renderInto(content, text);
    else content.textContent = text;
    const messages = $("messages");
    messages.scrollTop = messages.scrollHeight;
  }

  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      notice("");
    } catch (e) {
      notice("Copying is not allowed by this browser.");
    }
  }

  function setBusy(busy) {
    $("send").disabled = busy;
    $("stop").disabled = !busy;
  }

  // Reads server-sent events from the response body, calling onData with each "data:" payload.
  async function readEvents(response, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (line.startsWith("data: ") && onData(line.slice(6)) === false) return;
        }
      }
    }
  }

  async function send(text) {
    const before = conversation.slice();  // the turns the reply's feedback names as its context
    conversation.push({ role: "user", content: text });
    addMessage("user", text);
    const reply = addMessage("assistant", "");
    reply.classList.add("streaming");
    let replyText = "";
    let pending = false;
    const render = () => { pending = false; setMessageText(reply, replyText); };
    controller = new AbortController();
    setBusy(true);
    notice("");
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ messages: conversation, stream: true }),
        signal: controller.signal,
      });
      if (!response.ok) throw new Error(await window.MimirCommon.errorMessage(response));
      await readEvents(response, (data) => {
        if (data === "[DONE]") return false;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          replyText += delta.content;
          if (!pending) { pending = true; requestAnimationFrame(render); }
        }
        return true;
      });
    } catch (e) {
      if (e.name !== "AbortError") {
        reply.classList.add("error");
        notice(e.message);
      }
    } finally {
      render();
      reply.classList.remove("streaming");
      reply.dataset.done = "true";
      if (replyText) {
        const turn = { prompt: text, modelResponse: replyText, conversation: before };
        conversation.push({ role: "assistant", content: replyText });
        window.MimirFeedback.attach(reply, turn);
      } else if (!reply.classList.contains("error")) reply.remove();
      controller = null;
      setBusy(false);
    }
  }

  function stop() {
    if (controller) controller.abort();
  }

  function clear() {
    stop();
    conversation.length = 0;
    $("messages").replaceChildren();
    notice("");
  }

  function lastReply() {
    for (let i = conversation.length - 1; i >= 0; --i) if (conversation[i].role === "assistant") return conversation[i].content;
    return "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = $("input");
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || controller) return;
      input.value = "";
      send(text);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    $("stop").addEventListener("click", stop);
    $("clear").addEventListener("click", clear);
    $("copy").addEventListener("click", () => copyText(lastReply()));
  });

  // For tests and embedding: show a message through exactly the path a streamed reply takes.
  window.MimirChat = { addMessage, setMessageText };
})();
