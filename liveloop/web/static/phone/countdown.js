// The own page's countdown (phone/me.html); a static file so the Content-Security-Policy
// can forbid inline script.
(function () {
  var box = document.getElementById("countdown");
  if (!box || box.hidden) return;
  var target = Date.parse(box.dataset.target);
  var parts = {};
  box.querySelectorAll("[data-part]").forEach(function (el) { parts[el.dataset.part] = el; });
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var left = Math.max(0, Math.floor((target - Date.now()) / 1000));
    parts.days.textContent = Math.floor(left / 86400);
    parts.hours.textContent = pad(Math.floor(left % 86400 / 3600));
    parts.minutes.textContent = pad(Math.floor(left % 3600 / 60));
    parts.seconds.textContent = pad(left % 60);
    if (left === 0) {
      box.hidden = true;
      document.getElementById("countdown-done").hidden = false;
      clearInterval(timer);
    }
  }
  var timer = setInterval(tick, 1000);
  tick();
})();
