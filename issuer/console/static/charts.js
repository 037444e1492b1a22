// Draws each panel's chart from the JSON beside its canvas. The table under each chart holds
// the same numbers, so the page says everything without this script too.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  var palette = ["#0b5d3b", "#e08a00", "#3b6fb6", "#b63b5d", "#6b8e23", "#7a5195", "#5a5f66"];
  document.querySelectorAll(".panel").forEach(function (panel) {
    var data = panel.querySelector("script.chart-data");
    var canvas = panel.querySelector("canvas");
    if (!data || !canvas) return;
    var spec = JSON.parse(data.textContent);
    var round = spec.type === "doughnut";
    var datasets = spec.datasets.map(function (d, i) {
      var color = round ? spec.labels.map(function (_, j) { return palette[j % palette.length]; })
                        : palette[i % palette.length];
      return {label: d.label, data: d.data, backgroundColor: color, borderColor: color,
              tension: 0.25, fill: false};
    });
    var options = {responsive: true, maintainAspectRatio: false, animation: false,
                   plugins: {legend: {position: "bottom"}}};
    if (!round) {
      options.indexAxis = spec.horizontal ? "y" : "x";
      options.scales = {x: {stacked: !!spec.stacked}, y: {stacked: !!spec.stacked, beginAtZero: true}};
    }
    canvas.chart = new Chart(canvas, {type: spec.type, data: {labels: spec.labels, datasets: datasets},
                                      options: options});
    panel.dataset.drawn = "true";
  });
})();
