/* fairmtl report: hover cards, axis switching and sortable tables.
   The page is complete without this script; it only adds interaction. Text from the
   results is always set with textContent, never parsed as HTML. */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var dataEl = document.getElementById("fairmtl-data");
  var svg = document.getElementById("frontier-svg");

  function svgEl(name, attrs, text) {
    var el = document.createElementNS(SVGNS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }
  function el(name, cls, text) {
    var e = document.createElement(name);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  /* ---------------- sortable tables ---------------- */
  function cellKey(td, numeric) {
    var v = td.hasAttribute("data-v") ? td.getAttribute("data-v") : td.textContent.trim();
    if (!numeric) { return v.toLowerCase(); }
    if (v === "") { return null; }
    var f = parseFloat(v);
    return isNaN(f) ? null : f;
  }
  function sortTable(table, th, col) {
    var numeric = th.getAttribute("data-sort") === "num";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[col], numeric), y = cellKey(b.cells[col], numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   /* missing values last, either way */
      if (y === null) { return -1; }
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (!th.hasAttribute("data-sort")) { return; }
      var button = el("button", "sort");
      button.type = "button";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () { sortTable(table, th, col); });
    });
  });

  if (!dataEl || !svg) { return; }
  var data = JSON.parse(dataEl.textContent);
  var box = data.box;
  var models = {}, crits = {};
  data.models.forEach(function (m) { models[m.id] = m; });
  data.criteria.forEach(function (c) { crits[c.name] = c; });
  var state = { x: data.x, y: data.y, all: false };

  /* ---------------- frontier plot: axes ---------------- */
  function scale(v, domain, start, length) {
    return start + (v - domain[0]) / (domain[1] - domain[0]) * length;
  }
  /* The default view is fitted to the focus models; "Show all" fits every model. */
  function domain(c) { return state.all ? c.domain_all : c.domain; }
  function ticks(c) { return state.all ? c.ticks_all : c.ticks; }
  function position(m) {
    var vx = m.values[state.x], vy = m.values[state.y];
    if (vx === null || vy === null || vx === undefined || vy === undefined) { return null; }
    var cx = crits[state.x], cy = crits[state.y];
    return [scale(vx, domain(cx), box.left, box.width),
            scale(vy, domain(cy), box.top + box.height, -box.height)];
  }
  function inView(p) {
    return p !== null && p[0] >= box.left - 0.5 && p[0] <= box.left + box.width + 0.5 &&
      p[1] >= box.top - 0.5 && p[1] <= box.top + box.height + 0.5;
  }
  /* Tags ("chosen", "most accurate") take the first spot clear of the plot's edges,
     of the tags already placed and of other marks: the rule of _view.place_tags. */
  function tagBox(p, spot, text) {
    var w = data.tag_char * text.length + 4, x = p[0] + spot[0];
    var x0 = spot[2] === "middle" ? x - w / 2 : (spot[2] === "start" ? x : x - w);
    var y = p[1] + spot[1];
    return [x0, y - data.tag_height + 3, x0 + w, y + 3];
  }
  function overlaps(a, b) { return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]; }
  function placeTags(tags, marks) {
    var taken = [];
    var edge = [box.left, box.top, box.left + box.width, box.top + box.height];
    tags.forEach(function (t) {
      var best = data.spots[0], bestCost = Infinity;
      for (var i = 0; i < data.spots.length; i += 1) {
        var spot = data.spots[i], r = tagBox(t.p, spot, t.text);
        var cost = (r[0] >= edge[0] && r[2] <= edge[2] && r[1] >= edge[1] && r[3] <= edge[3]) ? 0 : 100;
        taken.forEach(function (q) { if (overlaps(r, q)) { cost += 10; } });
        marks.forEach(function (m) {
          if (Math.abs(m[0] - t.p[0]) > 0.5 || Math.abs(m[1] - t.p[1]) > 0.5) {
            if (overlaps(r, [m[0] - 7, m[1] - 7, m[0] + 7, m[1] + 7])) { cost += 1; }
          }
        });
        if (cost < bestCost) { best = spot; bestCost = cost; }
        if (cost === 0) { break; }
      }
      taken.push(tagBox(t.p, best, t.text));
      t.node.setAttribute("dx", best[0]);
      t.node.setAttribute("dy", best[1]);
      t.node.setAttribute("text-anchor", best[2]);
    });
  }
  function front() {
    var sx = crits[state.x].maximize ? 1 : -1, sy = crits[state.y].maximize ? 1 : -1;
    var pts = data.models.filter(function (m) { return position(m) !== null; }).map(function (m) {
      return { m: m, x: sx * m.values[state.x], y: sy * m.values[state.y] };
    });
    pts.sort(function (a, b) { return (b.x - a.x) || (b.y - a.y); });
    var best = -Infinity, out = [];
    pts.forEach(function (p) { if (p.y > best) { out.push(p.m); best = p.y; } });
    out.sort(function (a, b) { return a.values[state.x] - b.values[state.x]; });
    return out;
  }
  function fmt(m, name) {
    var found = "";
    m.scores.forEach(function (s) { if (s.name === name) { found = s.test; } });
    return found;
  }
  function axisLabel(c) {
    return c.label + " (" + (c.maximize ? "higher" : "lower") + " is better) \u2192";
  }
  function drawAxes() {
    var gx = document.getElementById("x-axis"), gy = document.getElementById("y-axis");
    var cx = crits[state.x], cy = crits[state.y];
    clear(gx); clear(gy);
    ticks(cx).forEach(function (t) {
      var p = scale(t[0], domain(cx), box.left, box.width).toFixed(1);
      gx.appendChild(svgEl("line", { "class": "grid", x1: p, x2: p, y1: box.top, y2: box.top + box.height }));
      gx.appendChild(svgEl("text", { "class": "tick", x: p, y: box.top + box.height + 16, "text-anchor": "middle" }, t[1]));
    });
    ticks(cy).forEach(function (t) {
      var p = scale(t[0], domain(cy), box.top + box.height, -box.height).toFixed(1);
      gy.appendChild(svgEl("line", { "class": "grid", x1: box.left, x2: box.left + box.width, y1: p, y2: p }));
      gy.appendChild(svgEl("text", { "class": "tick", x: box.left - 7, y: +p + 4, "text-anchor": "end" }, t[1]));
    });
    document.getElementById("x-label").textContent = axisLabel(cx);
    document.getElementById("y-label").textContent = axisLabel(cy);
    var title = document.getElementById("frontier-title");
    if (title) { title.textContent = cy.label + " against " + cx.label + " for " + data.models.length + " models"; }
  }
  function place() {
    var missing = 0, outside = 0, tags = [], marks = [], away = [];
    Array.prototype.forEach.call(svg.querySelectorAll("[data-model-id], [data-for]"), function (node) {
      var id = node.getAttribute("data-model-id") || node.getAttribute("data-for");
      var m = models[id];
      if (!m) { return; }
      var p = position(m);
      var isMark = node.hasAttribute("data-model-id");
      if (p === null) {
        node.classList.add("missing");
        if (isMark) { missing += 1; }
        return;
      }
      node.classList.remove("missing");
      node.classList.toggle("outside", !inView(p));
      if (!inView(p)) {
        if (isMark) { outside += 1; away.push(m.label); }
        return;
      }
      if (isMark) { marks.push(p); }
      node.setAttribute("transform", "translate(" + p[0].toFixed(1) + " " + p[1].toFixed(1) + ")");
      if (node.tagName.toLowerCase() === "text") { tags.push({ node: node, p: p, text: node.textContent, chosen: m.chosen }); }
      if (node.hasAttribute("data-model-id")) {
        var t = node.querySelector("title");
        if (t) {
          t.textContent = m.label + " (" + m.method + "): " + crits[state.x].label + " " +
            fmt(m, state.x) + ", " + crits[state.y].label + " " + fmt(m, state.y);
        }
      }
    });
    tags.sort(function (a, b) { return (b.chosen ? 1 : 0) - (a.chosen ? 1 : 0); });
    placeTags(tags, marks);
    var line = front().map(position).filter(inView).map(function (p) {
      return p[0].toFixed(1) + "," + p[1].toFixed(1);
    });
    document.getElementById("front-line").setAttribute("points", line.join(" "));
    var note = document.getElementById("missing-note");
    if (note) {
      note.hidden = missing === 0;
      note.textContent = missing + (missing === 1 ? " model has" : " models have") +
        " no value on these axes and " + (missing === 1 ? "is" : "are") + " not shown.";
    }
    var outNote = document.getElementById("outside-note"), toggle = document.getElementById("view-toggle");
    if (outNote) {
      outNote.hidden = outside === 0;
      outNote.textContent = "The view is fitted to the Pareto-optimal models and the models near them; " +
        outside + (outside === 1 ? " model lies" : " models lie") + " outside it (" +
        away.slice(0, 3).join(", ") + (away.length > 3 ? ", \u2026" : "") + ").";
    }
    if (toggle) {
      toggle.hidden = outside === 0 && !state.all;
      toggle.textContent = state.all ? "Back to the frontier's region" : "Show all " + data.models.length + " models";
    }
    drawAxes();
  }
  var viewToggle = document.getElementById("view-toggle");
  if (viewToggle) {
    viewToggle.addEventListener("click", function () { state.all = !state.all; place(); });
  }
  var xs = document.getElementById("x-select"), ys = document.getElementById("y-select");
  var controls = document.getElementById("axis-controls");
  if (xs && ys && controls) {
    controls.hidden = false;
    xs.addEventListener("change", function () { state.x = xs.value; place(); });
    ys.addEventListener("change", function () { state.y = ys.value; place(); });
  }
  place();

  /* ---------------- frontier plot: hover card ---------------- */
  var card = document.getElementById("hover-card");
  var wrap = document.getElementById("plot-wrap");
  function row(table, cells, head) {
    var tr = el("tr");
    cells.forEach(function (c, i) { tr.appendChild(el(head && i === 0 ? "th" : "td", null, c)); });
    table.appendChild(tr);
  }
  function fillCard(m) {
    clear(card);
    card.appendChild(el("h4", null, m.label + (m.chosen ? "  (chosen)" : "")));
    var kind = m.source === "fairmtl" ? "fairmtl" : "baseline";
    var settings = m.params.map(function (p) { return p[0] + "=" + p[1]; }).join(", ");
    card.appendChild(el("div", "muted", m.method + " \u00b7 " + kind + (settings ? " \u00b7 " + settings : "")));
    var flags = [];
    flags.push(m.pareto ? "Pareto-optimal" : "dominated");
    if (m.freq !== null) { flags.push("non-dominated in " + m.freq + " of resamples"); }
    if (m.status) { flags.push("solver: " + m.status); }
    card.appendChild(el("div", null, flags.join(" \u00b7 ")));
    var t = el("table");
    row(t, ["", "test", "validation"], false);
    m.scores.forEach(function (s) { row(t, [s.label, s.test, s.val], true); });
    card.appendChild(t);
    if (m.worst.length) {
      card.appendChild(el("div", null, "Worst-off groups (" + m.metric + ", " + m.worst.length + " of " + m.n_groups + "):"));
      var g = el("table");
      m.worst.forEach(function (w) { row(g, [w[0] + (w[3] ? " (uncertain)" : ""), w[1], w[2]], true); });
      card.appendChild(g);
    }
    if (m.harm[0] || m.harm[1]) {
      card.appendChild(el("div", "worse", "Worse off: " + m.harm[0] + " groups vs pooled, " + m.harm[1] + " vs their own model"));
    }
  }
  function show(node) {
    var m = models[node.getAttribute("data-model-id")];
    if (!m || !card || !wrap) { return; }
    fillCard(m);
    node.classList.add("hl");
    card.hidden = false;
    var wr = wrap.getBoundingClientRect(), r = node.getBoundingClientRect();
    var left = r.right - wr.left + 12, top = r.top - wr.top - 10;
    if (left + card.offsetWidth > wr.width) { left = r.left - wr.left - card.offsetWidth - 12; }
    card.style.left = Math.max(0, left) + "px";
    card.style.top = Math.max(0, top) + "px";
  }
  function hide(node) {
    if (card) { card.hidden = true; }
    if (node) { node.classList.remove("hl"); }
  }
  var layer = document.getElementById("markers");
  function target(ev) {
    var t = ev.target;
    return t && t.closest ? t.closest("[data-model-id]") : null;
  }
  if (layer) {
    layer.addEventListener("mouseover", function (ev) { var n = target(ev); if (n) { show(n); } });
    layer.addEventListener("mouseout", function (ev) { var n = target(ev); if (n) { hide(n); } });
    layer.addEventListener("focusin", function (ev) { var n = target(ev); if (n) { show(n); } });
    layer.addEventListener("focusout", function (ev) { var n = target(ev); if (n) { hide(n); } });
  }
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { hide(null); } });
}());
