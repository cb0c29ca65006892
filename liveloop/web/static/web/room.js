/* The live room (templates/web/room.html): its chart containers stay on the page, and every
   data block htmx swaps in brings the charts' ECharts options in <script type="application/json">
   tags (Django's json_script) named by [data-room-chart]. Giving a drawn chart its new option
   moves its lines in place instead of drawing it again. The options are data only; nothing
   here turns text into HTML. */
(function () {
  "use strict";

  function charts() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-room-chart]"));
  }

  function update() {
    if (typeof echarts === "undefined") return;
    charts().forEach(function (element) {
      var source = document.getElementById(element.getAttribute("data-room-chart"));
      if (!source) return;
      var chart = echarts.getInstanceByDom(element) || echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      element.setAttribute("data-chart-drawn", "");
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(function () {
      charts().forEach(function (element) {
        var chart = echarts.getInstanceByDom(element);
        if (chart) chart.resize();
      });
    });
  });

  // An opened per-minute table stays open across refreshes.
  var open = false;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var details = event.detail.target.querySelector("details.room-minutes");
    open = Boolean(details && details.open);
  });
  document.addEventListener("htmx:load", function (event) {
    var details = event.detail.elt.querySelector && event.detail.elt.querySelector("details.room-minutes");
    if (details && open) details.open = true;
    update();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
})();
