// Turns a model reply (Markdown with LaTeX) into safe HTML. Order matters: math is taken out before
// Markdown can mangle it, raw HTML in the reply is escaped so it shows as text, KaTeX renders the math,
// and DOMPurify sanitizes the final HTML so nothing a model writes can run script.
"use strict";

(function () {
  const MATH_PATTERNS = [
    { re: /\$\$([\s\S]+?)\$\$/g, display: true },
    { re: /\\\[([\s\S]+?)\\\]/g, display: true },
    { re: /\\\(([\s\S]+?)\\\)/g, display: false },
    // $x$: no space just inside the dollars and no digit right after the closing one, so "$5 and $10"
    // stays text.
    { re: /(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)/g, display: false },
  ];
  // Fenced and inline code keep their dollars.
  const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]*`)/g;

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function extractMath(text, formulas) {
    return text.split(CODE).map((part, i) => {
      if (i % 2 === 1) return part;
      for (const { re, display } of MATH_PATTERNS) {
        part = part.replace(re, (_, tex) => {
          formulas.push({ tex, display });
          return "MIMIRMATH" + (formulas.length - 1) + "X";
        });
      }
      return part;
    }).join("");
  }

  function renderFormula({ tex, display }) {
    try {
      return window.katex.renderToString(tex, { displayMode: display, throwOnError: false, trust: false, output: "htmlAndMathml" });
    } catch (e) {
      return escapeHtml(tex);
    }
  }

  let configured = false;
  function configureMarked() {
    if (configured) return;
    configured = true;
    window.marked.use({
      gfm: true,
      breaks: true,
      // Raw HTML in a reply is shown as the text it is, never interpreted.
      renderer: { html: (token) => escapeHtml(token.text || token.raw || "") },
    });
  }

  function renderMarkdown(text) {
    configureMarked();
    const formulas = [];
    const markdown = extractMath(String(text), formulas);
    let html = window.marked.parse(markdown);
    html = html.replace(/MIMIRMATH(\d+)X/g, (_, i) => renderFormula(formulas[Number(i)]));
    return window.DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input", "textarea", "button"], FORBID_ATTR: ["srcset"] });
  }

  function renderInto(element, text) {
    element.innerHTML = renderMarkdown(text);
  }

  window.MimirRender = { renderMarkdown, renderInto, escapeHtml };
})();
