// Charts: every <div class="vega" data-vega-src="URL"> (the `chart` macro) gets the
// Vega-Lite spec served as JSON at URL, drawn by vega-embed.
//
// Under the app's CSP (no 'unsafe-eval', no inline style): Vega parses expressions to ASTs
// and runs them with vega-interpreter (ast: true, expr: vega.expressionInterpreter), never
// with new Function; vega-embed injects no <style> (defaultStyle: false) and no actions
// menu; the tooltip handler injects no <style> either (its look is in app.css). Options a
// spec could carry in `usermeta.embedOptions` are dropped: the page decides how to draw.
//
// The vendored libraries are loaded only on pages that have a chart. After a draw the
// element carries data-vega-state="drawn" (or "error", with the reason as text), and a
// "spector:chart-drawn" event bubbles from it. Charts inside content htmx swaps in are
// drawn too. Each chart's page also shows the numbers as a table (progressive enhancement).
(function () {
  "use strict";
  if (window.spectorCharts) { return; } // loaded twice (a page linked it too): once is enough
  var VENDOR = "/static/vendor/";
  var LIBS = ["vega.min.js", "vega-lite.min.js", "vega-interpreter.min.js", "vega-embed.min.js"];
  var ready = null;

  function loadScript(name) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = VENDOR + name;
      s.async = false;
      s.addEventListener("load", function () { resolve(); });
      s.addEventListener("error", function () { reject(new Error("could not load " + name)); });
      document.head.appendChild(s);
    });
  }

  function libraries() {
    if (ready === null && window.vegaEmbed && window.vega && window.vega.expressionInterpreter) {
      ready = Promise.resolve();
    }
    if (ready === null) {
      ready = LIBS.reduce(function (chain, name) {
        return chain.then(function () { return loadScript(name); });
      }, Promise.resolve());
    }
    return ready;
  }

  function getJson(url) {
    if (window.spectorFetch) { return window.spectorFetch(url); }
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
        return r.json();
      });
  }

  function failed(el, err) {
    el.setAttribute("data-vega-state", "error");
    var p = document.createElement("p");
    p.className = "chart-error";
    p.textContent = "The chart could not be drawn (" + (err && err.message ? err.message : err) +
      "); the table shows the same numbers.";
    el.textContent = "";
    el.appendChild(p);
  }

  function draw(el) {
    if (el.hasAttribute("data-vega-state")) { return Promise.resolve(); }
    el.setAttribute("data-vega-state", "loading");
    var src = el.getAttribute("data-vega-src");
    return Promise.all([libraries(), getJson(src)]).then(function (both) {
      var spec = both[1];
      if (!spec || typeof spec !== "object") { throw new Error(src + ": not a JSON spec"); }
      delete spec.usermeta;
      return window.vegaEmbed(el, spec, {
        actions: false,
        ast: true,
        expr: window.vega.expressionInterpreter,
        defaultStyle: false,
        renderer: "svg",
        tooltip: { disableDefaultStyle: true, theme: "light" },
        logLevel: window.vega.Warn,
      });
    }).then(function (result) {
      el.setAttribute("data-vega-state", "drawn");
      var svg = el.querySelector("svg");
      if (svg) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", el.getAttribute("aria-label") || "chart");
      }
      el.dispatchEvent(new CustomEvent("spector:chart-drawn", { bubbles: true, detail: { view: result.view } }));
    }).catch(function (err) { failed(el, err); });
  }

  function drawAll(root) {
    var els = (root || document).querySelectorAll(".vega[data-vega-src]");
    return Promise.all(Array.prototype.map.call(els, draw));
  }

  window.spectorCharts = { draw: draw, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
