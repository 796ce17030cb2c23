// Spector's page glue. No inline script anywhere: pages carry data-* attributes and this
// file (and charts.js, graph.js) act on them. The CSRF token is in <meta name=csrf-token>.
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  // htmx requests carry the CSRF header.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });
  // fetch() for our own JSON (same origin, cookie session, CSRF header on writes).
  window.spectorFetch = function (url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf() },
      options.headers || {});
    return fetch(url, options).then(function (r) {
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.json();
    });
  };
  // <select data-autosubmit> submits its form when changed.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) { el.form.requestSubmit(); }
  });
})();
