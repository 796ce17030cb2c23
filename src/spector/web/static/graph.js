// Graphs: every <div class="cy" data-graph-src="URL" data-graph-layout="cose"
// [data-graph-expand="URL?node="]> (the `graph` macro) gets Cytoscape elements JSON
// {"nodes": [{"data": {"id", "label", "kind"}}], "edges": [{"data": {"id", "source",
// "target", "label"}}]} from URL and draws them with Cytoscape.js (canvas: labels are never
// parsed as HTML). With data-graph-expand, a click (tap) on a node fetches
// expand + encodeURIComponent(node id) and adds the nodes and edges not drawn yet.
//
// After every draw or expansion: data-node-count and data-edge-count on the .cy element, a
// "spector:graph-drawn" event bubbling from it, and next to it an accessible list
// <ul class="graph-nodes"> of the node labels (textContent only; with expand, each label is
// a button that expands that node, so the graph works from the keyboard too).
//
// CSP: Cytoscape would inject a <style> for its container class unless an element with the
// id it looks for exists; a <meta> with that id stands in and app.css has the rule.
(function () {
  "use strict";
  if (window.spectorGraphs) { return; } // loaded twice (a page linked it too): once is enough
  var VENDOR = "/static/vendor/";
  var STYLESHEET_ID = "__________cytoscape_stylesheet";
  var ready = null;
  var graphs = [];

  var COLOURS = {
    actor: "#1f5fa8", account: "#6a3d9a", pgp: "#b15928", btc: "#e6a100",
    cluster: "#33a02c", exchange: "#e31a1c", tx: "#888888", address: "#e6a100",
  };

  function libraries() {
    if (!document.getElementById(STYLESHEET_ID)) {
      var stand = document.createElement("meta");
      stand.id = STYLESHEET_ID;
      stand.name = "cytoscape-container-style";
      stand.content = "app.css";
      document.head.appendChild(stand);
    }
    if (ready === null && window.cytoscape) { ready = Promise.resolve(); }
    if (ready === null) {
      ready = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = VENDOR + "cytoscape.min.js";
        s.addEventListener("load", function () { resolve(); });
        s.addEventListener("error", function () { reject(new Error("could not load cytoscape")); });
        document.head.appendChild(s);
      });
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

  function style() {
    var s = [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
        "background-color": "#7f8c8d", "width": 18, "height": 18, "color": "#1d232b",
        "text-wrap": "ellipsis", "text-max-width": 120 } },
      { selector: "node[?expanded]", style: { "border-width": 2, "border-color": "#14202e" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#000" } },
      { selector: "edge", style: {
        "width": 1.5, "line-color": "#9aa5b1", "target-arrow-color": "#9aa5b1",
        "target-arrow-shape": "triangle", "curve-style": "bezier", "label": "data(label)",
        "font-size": 9, "color": "#5d6773", "text-rotation": "autorotate",
        "text-background-color": "#fff", "text-background-opacity": 0.8 } },
    ];
    Object.keys(COLOURS).forEach(function (kind) {
      s.push({ selector: 'node[kind = "' + kind + '"]', style: { "background-color": COLOURS[kind] } });
    });
    s.push({ selector: 'node[kind = "actor"]', style: { "shape": "round-rectangle", "width": 26, "height": 26 } });
    s.push({ selector: 'node[kind = "cluster"]', style: { "shape": "hexagon", "width": 24, "height": 24 } });
    s.push({ selector: 'node[kind = "exchange"]', style: { "shape": "diamond", "width": 24, "height": 24 } });
    return s;
  }

  // Only the fields we draw, as strings: nothing else from the server reaches Cytoscape.
  function clean(json) {
    var out = [];
    var nodes = (json && json.nodes) || [];
    var edges = (json && json.edges) || [];
    nodes.forEach(function (n) {
      var d = (n && n.data) || {};
      if (d.id === undefined || d.id === null) { return; }
      out.push({ group: "nodes", data: {
        id: String(d.id), label: d.label === undefined || d.label === null ? String(d.id) : String(d.label),
        kind: d.kind === undefined || d.kind === null ? String(d.id).split(":")[0] : String(d.kind) } });
    });
    edges.forEach(function (e, i) {
      var d = (e && e.data) || {};
      if (d.source === undefined || d.target === undefined) { return; }
      out.push({ group: "edges", data: {
        id: d.id === undefined || d.id === null ? "e:" + d.source + ">" + d.target + ":" + i : String(d.id),
        source: String(d.source), target: String(d.target),
        label: d.label === undefined || d.label === null ? "" : String(d.label) } });
    });
    return out;
  }

  function layoutOptions(el) {
    var name = el.getAttribute("data-graph-layout") || "cose";
    var o = { name: name, animate: false, fit: true, padding: 24 };
    if (name === "breadthfirst") { o.directed = true; o.spacingFactor = 1.2; }
    if (name === "cose") { o.randomize = false; o.nodeDimensionsIncludeLabels = true; }
    return o;
  }

  function nodeList(el) {
    var list = el.nextElementSibling;
    if (!list || !list.classList.contains("graph-nodes")) {
      list = document.createElement("ul");
      list.className = "graph-nodes";
      list.setAttribute("aria-label", (el.getAttribute("aria-label") || "graph") + ": nodes");
      el.parentNode.insertBefore(list, el.nextSibling);
    }
    return list;
  }

  function describe(el, cy) {
    el.setAttribute("data-node-count", String(cy.nodes().length));
    el.setAttribute("data-edge-count", String(cy.edges().length));
    var list = nodeList(el);
    list.textContent = "";
    var expandable = el.hasAttribute("data-graph-expand");
    cy.nodes().sort(function (a, b) {
      return String(a.data("label")).localeCompare(String(b.data("label")));
    }).forEach(function (node) {
      var li = document.createElement("li");
      li.setAttribute("data-node-id", node.id());
      li.setAttribute("data-kind", node.data("kind"));
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = node.data("kind");
      li.appendChild(kind);
      if (expandable && !node.data("expanded")) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "link";
        b.textContent = node.data("label");
        b.title = "Show what is linked to this";
        b.addEventListener("click", function () { expand(el, cy, node.id()); });
        li.appendChild(b);
      } else {
        var t = document.createElement("span");
        t.textContent = node.data("label");
        li.appendChild(t);
      }
      list.appendChild(li);
    });
    el.dispatchEvent(new CustomEvent("spector:graph-drawn", { bubbles: true,
      detail: { nodes: cy.nodes().length, edges: cy.edges().length } }));
  }

  function expand(el, cy, id) {
    var node = cy.getElementById(id);
    if (node.empty() || node.data("expanded")) { return Promise.resolve(); }
    node.data("expanded", true);
    el.setAttribute("data-graph-state", "expanding");
    return getJson(el.getAttribute("data-graph-expand") + encodeURIComponent(id)).then(function (json) {
      var fresh = clean(json).filter(function (item) { return cy.getElementById(item.data.id).empty(); });
      var nodesNow = {};
      cy.nodes().forEach(function (n) { nodesNow[n.id()] = true; });
      fresh.forEach(function (item) { if (item.group === "nodes") { nodesNow[item.data.id] = true; } });
      fresh = fresh.filter(function (item) {
        return item.group === "nodes" || (nodesNow[item.data.source] && nodesNow[item.data.target]);
      });
      if (fresh.length) {
        cy.add(fresh);
        cy.layout(layoutOptions(el)).run();
      }
      el.setAttribute("data-graph-state", "drawn");
      describe(el, cy);
    }).catch(function (err) {
      node.data("expanded", false);
      el.setAttribute("data-graph-state", "error");
      el.setAttribute("data-graph-error", String(err && err.message ? err.message : err));
    });
  }

  function failed(el, err) {
    el.setAttribute("data-graph-state", "error");
    var p = document.createElement("p");
    p.className = "graph-error";
    p.textContent = "The graph could not be drawn (" + (err && err.message ? err.message : err) +
      "); the table shows the same links.";
    el.parentNode.insertBefore(p, el.nextSibling);
  }

  function draw(el) {
    if (el.hasAttribute("data-graph-state")) { return Promise.resolve(); }
    el.setAttribute("data-graph-state", "loading");
    var src = el.getAttribute("data-graph-src");
    return Promise.all([libraries(), getJson(src)]).then(function (both) {
      var elements = clean(both[1]);
      var ids = {};
      elements.forEach(function (item) { if (item.group === "nodes") { ids[item.data.id] = true; } });
      elements = elements.filter(function (item) {
        return item.group === "nodes" || (ids[item.data.source] && ids[item.data.target]);
      });
      var cy = window.cytoscape({
        container: el, elements: elements, style: style(), layout: layoutOptions(el),
        minZoom: 0.1, maxZoom: 4,
      });
      graphs.push({ el: el, cy: cy });
      if (el.hasAttribute("data-graph-expand")) {
        cy.on("tap", "node", function (evt) { expand(el, cy, evt.target.id()); });
      }
      el.setAttribute("data-graph-state", "drawn");
      describe(el, cy);
    }).catch(function (err) { failed(el, err); });
  }

  function drawAll(root) {
    var els = (root || document).querySelectorAll(".cy[data-graph-src]");
    return Promise.all(Array.prototype.map.call(els, draw));
  }

  // For tests and the console: the Cytoscape instance drawn in element `el`.
  window.spectorGraphs = {
    draw: draw,
    drawAll: drawAll,
    of: function (el) {
      for (var i = 0; i < graphs.length; i++) { if (graphs[i].el === el) { return graphs[i].cy; } }
      return null;
    },
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
