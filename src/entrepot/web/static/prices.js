// The price board's chart: one line per product, currency and unit, time on the x axis.
(function () {
  "use strict";
  var canvas = document.getElementById("price-chart");
  var data = JSON.parse(document.getElementById("price-series").textContent || "[]");
  if (!canvas || !window.Chart) return;
  var colours = ["#0b5cad", "#b3261e", "#1b6e3a", "#b36b00", "#6a3fa0", "#00838f", "#5d4037"];
  new window.Chart(canvas, {
    type: "line",
    data: { datasets: data.map(function (s, i) {
      return { label: s.label, data: s.points.map(function (p) { return { x: Date.parse(p.x), y: p.y }; }),
               borderColor: colours[i % colours.length], tension: 0.2 };
    }) },
    options: { parsing: false, animation: false,
               scales: { x: { type: "linear", ticks: { callback: function (v) { return new Date(v).toISOString().slice(0, 10); } } } } }
  });
})();
