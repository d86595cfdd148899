// What the chat page and the review view share: building elements with text (never HTML), talking to the
// server's JSON endpoints (a refusal becomes the message the server wrote, {"error": {"message", ...}}), and
// naming an evaluation check in plain words.
"use strict";

(function () {
  // element("p", {className: "x", text: "shown as text", "aria-live": "polite"}, [children]): properties the
  // element has are set as properties, the rest (aria-*, role, ...) as attributes.
  function element(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key in node && !key.includes("-")) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.appendChild(child);
    return node;
  }

  // The server's message for a failed response, or the HTTP status text when the body has none.
  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return String(body.error.message);
    } catch (e) { /* not JSON */ }
    return response.statusText || "request failed (HTTP " + response.status + ")";
  }

  // Sends a JSON request; resolves to the parsed body on success and throws an Error carrying the
  // server's message and the HTTP status otherwise. A network failure throws with a readable message.
  async function requestJson(method, url, { body, headers, signal } = {}) {
    const init = { method, headers: { ...(headers || {}) }, signal, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw Object.assign(new Error("The server cannot be reached."), { status: 0 });
    }
    if (!response.ok) {
      const error = new Error(await errorMessage(response));
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  // "tone.no_emoticons" -> "Tone: no emoticons".
  function checkLabel(name) {
    const text = String(name || "");
    const dot = text.indexOf(".");
    const words = (s) => s.replace(/_/g, " ");
    if (dot < 0) return words(text);
    const group = words(text.slice(0, dot));
    return group.charAt(0).toUpperCase() + group.slice(1) + ": " + words(text.slice(dot + 1));
  }

  window.MimirCommon = { element, errorMessage, requestJson, checkLabel };
})();
