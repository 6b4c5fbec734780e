/* The assessment's charts (/communes/bilan): each <canvas data-bilan-chart="ID"> is drawn by Chart.js
 * (vendored, communes/chartjs) from the JSON in <script type="application/json" id="ID">, which holds the same
 * numbers as the table under the chart. Without JavaScript the tables remain. */
(function () {
  "use strict";

  // One colour per group of communes, the same in every chart (colour-blind safe, Okabe-Ito).
  var GROUP_COLOURS = {
    phase1: "#0072B2",
    phase2: "#E69F00",
    generalisation: "#009E73",
    non_partner: "#7F7F7F",
    all_communes: "#CC79A7"
  };
  var FALLBACK = ["#0072B2", "#E69F00", "#009E73", "#7F7F7F", "#CC79A7", "#D55E00", "#56B4E9"];
  var numberFormat = new Intl.NumberFormat("fr-FR", {maximumFractionDigits: 1});

  function colour(key, index) {
    return GROUP_COLOURS[key] || FALLBACK[index % FALLBACK.length];
  }

  function format(value, unit) {
    if (value === null || value === undefined) { return "—"; }
    return numberFormat.format(value) + (unit === "percent" ? "\u202f%" : "");
  }

  function datasetsOf(spec) {
    return spec.series.map(function (series, index) {
      var base = {label: series.label, data: series.data};
      if (series.colours) {  // one bar per group: each bar in its group's colour
        var colours = series.colours.map(function (key, i) { return colour(key, i); });
        return Object.assign(base, {backgroundColor: colours, borderColor: colours});
      }
      var c = colour(series.key, index);
      if (spec.type === "line") {
        return Object.assign(base, {borderColor: c, backgroundColor: c, borderWidth: 2, tension: 0.2,
                                    pointRadius: spec.labels.length > 36 ? 0 : 2});
      }
      return Object.assign(base, {backgroundColor: c, borderColor: c});
    });
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-bilan-chart"));
    if (!source || typeof window.Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var single = spec.series.length === 1;
    var horizontal = Boolean(spec.horizontal);  // long category names read better on the left
    var categoryAxis = {title: {display: true, text: spec.category_label},
                        ticks: {autoSkip: !horizontal, maxRotation: 45}};
    // A scale with a known top (shares: 100 %, the MQA: 405 points) drawn up to it.
    var top = spec.max || (spec.unit === "percent" ? 100 : undefined);
    var valueAxis = {beginAtZero: true, suggestedMax: top,
                     ticks: {precision: 0, callback: function (value) { return format(value, spec.unit); }}};
    new window.Chart(canvas, {
      type: spec.type,
      data: {labels: spec.labels, datasets: datasetsOf(spec)},
      options: {
        locale: "fr-FR",
        animation: false,  // drawn at once: the page is also printed as a report
        responsive: true,
        maintainAspectRatio: true,
        // Many horizontal bars (the MQA of up to 58 communes) need a taller chart to stay readable.
        aspectRatio: horizontal && spec.labels.length > 10 ? Math.max(0.4, 20 / spec.labels.length) : 2,
        indexAxis: horizontal ? "y" : "x",
        interaction: {mode: "index", intersect: false, axis: horizontal ? "y" : "x"},
        scales: horizontal ? {x: valueAxis, y: categoryAxis} : {x: categoryAxis, y: valueAxis},
        plugins: {
          legend: {display: !single, position: "bottom"},
          tooltip: {callbacks: {label: function (item) {
            return (single ? item.label : item.dataset.label) + " : " + format(item.raw, spec.unit);
          }}}
        }
      }
    });
  }

  function start() {
    var canvases = document.querySelectorAll("canvas[data-bilan-chart]");
    Array.prototype.forEach.call(canvases, draw);
    // Canvases keep their screen size when printing unless told: redraw them at the page's width.
    window.addEventListener("beforeprint", function () {
      Array.prototype.forEach.call(canvases, function (canvas) {
        var chart = window.Chart && window.Chart.getChart(canvas);
        if (chart) { chart.resize(); }
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-bilan-print]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
