/* leadrouter dashboard: draws the charts (uPlot) from the data the server embedded in the
   page, shows times in the reader's time zone, and refreshes the page's content every
   `data-refresh` seconds without a reload. No data leaves the page; nothing is fetched from
   anywhere but this service. */
(function () {
  "use strict";

  var charts = [];
  var HEIGHT = 230;
  var INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000,
    20000, 50000, 100000];

  function short(label) {
    label = String(label);
    return label.length > 16 ? label.slice(0, 15) + "\u2026" : label;
  }

  function maxOf(spec) {
    var top = 0;
    spec.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v != null && v > top) top = v; });
    });
    return top;
  }

  /* Grouped bars over categories: category i spans x in [i - 0.5, i + 0.5]; series j of m
     is drawn at its own offset inside the group (uPlot's `disp` x0/size, in scale units). */
  function barSeries(spec) {
    var n = spec.labels.length, m = spec.series.length;
    var group = m > 1 ? 0.84 : 0.6, width = group / m;
    return spec.series.map(function (s, j) {
      var x0 = [], size = [];
      for (var i = 0; i < n; i++) {
        x0.push(i - group / 2 + j * width);
        size.push(width * 0.92);
      }
      var disp = {
        x0: { unit: 1, values: function () { return x0; } },
        size: { unit: 1, values: function () { return size; } }
      };
      var color = s.color || (s.colors && s.colors[0]) || "#5c6bc0";
      if (s.colors) {
        disp.fill = { unit: 3, values: function () { return s.colors; } };
      }
      return {
        label: s.label, stroke: color, fill: color, width: 0,
        points: { show: false },
        paths: uPlot.paths.bars({ size: [1, Infinity, 1], disp: disp })
      };
    });
  }

  function options(el, spec) {
    var n = spec.labels.length;
    var xs = spec.labels.map(function (_, i) { return i; });
    var width = Math.max(el.clientWidth, 200);
    var longest = spec.labels.reduce(function (a, l) { return Math.max(a, short(l).length); }, 0);
    var crowded = n * (longest * 7 + 8) > width - 60;
    var top = Math.max(1, Math.ceil(maxOf(spec) * 1.15));
    var series = [{
      label: spec.axis || "",
      value: function (u, v) { return v == null ? "" : String(spec.labels[Math.round(v)]); }
    }].concat(barSeries(spec));
    var scales = {
      x: { time: false, range: function () { return [-0.5, n - 0.5]; } },
      y: { range: function () { return [0, top]; } }
    };
    var axes = [
      {
        splits: function () { return xs; },
        values: function (u, splits) {
          return splits.map(function (i) { return spec.labels[i] == null ? "" : short(spec.labels[i]); });
        },
        grid: { show: false }, ticks: { show: false },
        rotate: crowded ? -40 : 0, size: crowded ? 78 : 34
      },
      { incrs: INTEGER_STEPS, size: 42, grid: { stroke: "#eceff1" } }
    ];
    if (spec.line) {
      series.push({
        label: spec.line.label, scale: "%", stroke: spec.line.color, width: 2,
        spanGaps: true, points: { show: true, size: 6 }
      });
      scales["%"] = { range: function () { return [0, 100]; } };
      axes.push({ scale: "%", side: 1, size: 52, grid: { show: false },
        values: function (u, splits) { return splits.map(function (v) { return v + "%"; }); } });
    }
    return {
      width: width, height: HEIGHT, series: series, scales: scales, axes: axes,
      legend: { show: true, live: true },
      cursor: { points: { show: false }, drag: { x: false, y: false, setScale: false } }
    };
  }

  function data(spec) {
    var out = [spec.labels.map(function (_, i) { return i; })];
    spec.series.forEach(function (s) { out.push(s.values.slice()); });
    if (spec.line) out.push(spec.line.values.slice());
    return out;
  }

  function drawCharts() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var holder = document.getElementById("chart-data");
    if (!holder || typeof uPlot === "undefined") return;
    var specs = JSON.parse(holder.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = specs[el.getAttribute("data-chart")];
      el.textContent = "";
      if (!spec || spec.labels.length === 0) {
        var p = document.createElement("p");
        p.className = "empty";
        p.textContent = "Nothing in this window.";
        el.appendChild(p);
        return;
      }
      charts.push(new uPlot(options(el, spec), data(spec), el));
    });
  }

  function resize() {
    charts.forEach(function (c) {
      var width = Math.max(c.root.parentNode.clientWidth, 200);
      if (Math.abs(width - c.width) > 2) c.setSize({ width: width, height: HEIGHT });
    });
  }

  function ago(ms) {
    var minutes = Math.round(ms / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 90) return minutes + " min ago";
    var hours = Math.round(minutes / 60);
    return hours < 48 ? hours + " h ago" : Math.round(hours / 24) + " d ago";
  }

  function localTimes(root) {
    var now = Date.now();
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      el.title = at.toISOString();
      var text = at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit",
        minute: "2-digit" });
      if (el.hasAttribute("data-clock")) {
        text = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      } else if (el.closest("#needs-person")) {
        text += " (" + ago(now - at.getTime()) + ")";
      }
      el.textContent = text;
    });
  }

  /* Fetch this same page again and swap its content: one renderer (the server) for the first
     paint and every refresh. On failure the old figures stay, marked as stale. */
  function refresh() {
    if (document.visibilityState === "hidden") return;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store",
      headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var main = fresh.getElementById("content");
        var status = fresh.getElementById("status");
        if (!main || !status) throw new Error("unexpected page");
        document.getElementById("content").replaceWith(document.importNode(main, true));
        document.getElementById("status").replaceWith(document.importNode(status, true));
        localTimes(document);
        drawCharts();
      })
      .catch(function () {
        var stale = document.getElementById("stale");
        if (stale) stale.hidden = false;
      });
  }

  function start() {
    window.leadrouterDashboard = { refresh: refresh };  // for tests and the console
    localTimes(document);
    drawCharts();
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(resize).observe(document.body);
    } else {
      window.addEventListener("resize", resize);
    }
    var status = document.getElementById("status");
    var seconds = status ? parseInt(status.getAttribute("data-refresh"), 10) : 0;
    if (seconds > 0) window.setInterval(refresh, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") refresh();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
