// Deadlines count down on the page (no build step, no library). Counted from the server's
// clock (the page says what time it was when sent), so a phone with a wrong clock counts right.
(function () {
  var offset = 0;
  function format(ms, units) {
    var u = (units || "d,h,min").split(",");
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d > 0) return d + u[0] + " " + h + u[1];
    if (h > 0) return h + u[1] + " " + m + u[2];
    return m + u[2];
  }
  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(due) || el.closest("[data-frozen]")) return;
      var ms = due - now;
      var template = ms >= 0 ? el.getAttribute("data-left") : el.getAttribute("data-over");
      el.textContent = template.replace("%(time)s", format(ms, el.getAttribute("data-units")));
      el.classList.toggle("late", ms < 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var served = Date.parse(document.body.getAttribute("data-now"));
    if (!isNaN(served)) offset = served - Date.now();
    if (document.querySelector("[data-testid=as-of]")) {
      document.body.setAttribute("data-frozen", "1");  // a look back does not tick
    }
    tick();
    setInterval(tick, 30000);
  });
})();
