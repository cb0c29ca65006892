/* Draws every chart container on the page: [data-chart-option] names the id of the
   <script type="application/json"> (Django's json_script) that holds its ECharts option.
   The option is data only; nothing here turns text into HTML. */
(function () {
  "use strict";

  function containers(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-chart-option]"));
    if (root.matches && root.matches("[data-chart-option]")) found.unshift(root);
    return found;
  }

  function draw(root) {
    if (typeof echarts === "undefined") return;
    containers(root).forEach(function (element) {
      if (echarts.getInstanceByDom(element)) return;
      var source = document.getElementById(element.getAttribute("data-chart-option"));
      if (!source) return;
      var chart = echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      element.setAttribute("data-chart-drawn", "");
    });
  }

  function resizeAll() {
    containers(document).forEach(function (element) {
      var chart = echarts.getInstanceByDom(element);
      if (chart) chart.resize();
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(resizeAll);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(document); });
  } else {
    draw(document);
  }
  // Content swapped in by htmx: draw new charts, free the ones taken out.
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    if (typeof echarts === "undefined") return;
    containers(event.detail.elt).forEach(function (element) {
      var chart = echarts.getInstanceByDom(element);
      if (chart) chart.dispose();
    });
  });
})();
