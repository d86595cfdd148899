// The model-status button: polls /api/status and shows the server's verdict. All text goes in through
// textContent and attributes, never as HTML.
"use strict";

(function () {
  const STATES = ["success", "warning", "error"];
  const POLL_MS = 3000;
  let last = "";

  function apply(status) {
    const button = document.getElementById("status-button");
    const state = STATES.includes(status.state) ? status.state : "error";
    const label = String(status.label || state);
    const tooltip = String(status.tooltip || "");
    const key = state + "\n" + label + "\n" + tooltip;
    if (key === last) return;
    last = key;
    for (const s of STATES) button.classList.toggle("status-button-" + s, s === state);
    button.dataset.state = state;
    button.setAttribute("data-tooltip", tooltip);
    button.setAttribute("aria-label", "Model status: " + label + ". " + tooltip);
    document.getElementById("status-label").textContent = label;
    document.getElementById("status-detail").textContent = tooltip;
  }

  async function poll() {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      apply(await response.json());
    } catch (e) {
      apply({ state: "error", label: "Offline", tooltip: "Error: the server cannot be reached" });
    }
  }

  // The tooltip opens upwards from the button group at the bottom right; lift it past the top of the
  // composer so it never covers the message input or Send, whatever the screen size or textarea height.
  function placeTooltip() {
    const button = document.getElementById("status-button");
    const composer = document.getElementById("composer");
    if (!button || !composer) return;
    const buttonBox = button.getBoundingClientRect();
    const lift = Math.max(buttonBox.bottom - composer.getBoundingClientRect().top, buttonBox.height) + 8;
    button.style.setProperty("--tooltip-bottom", Math.round(lift) + "px");
  }

  window.MimirStatus = { apply, poll, placeTooltip };
  document.addEventListener("DOMContentLoaded", () => {
    placeTooltip();
    document.getElementById("status-button").addEventListener("mouseenter", placeTooltip);
    window.addEventListener("resize", placeTooltip);
    poll();
    setInterval(poll, POLL_MS);
  });
})();
