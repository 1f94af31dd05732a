// Small behaviours that need no framework: the language switch submits itself, and on shared
// terminals an idle page signs out.
(function () {
  "use strict";
  document.querySelectorAll("select.autosubmit").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  var idle = parseInt(document.body.dataset.idleMinutes || "0", 10);
  var logout = document.getElementById("logout-form");
  if (idle > 0 && logout) {
    var timer;
    var reset = function () {
      clearTimeout(timer);
      timer = setTimeout(function () { logout.submit(); }, idle * 60 * 1000);
    };
    ["mousemove", "keydown", "touchstart", "scroll"].forEach(function (ev) {
      document.addEventListener(ev, reset, { passive: true });
    });
    reset();
  }
})();
