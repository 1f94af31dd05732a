// The review queue stays live: new flags appear within seconds without a reload. The rows are not
// replaced while the reviewer has ticked some of them for a bulk action.
(function () {
  "use strict";
  var rows = document.getElementById("flag-rows");
  if (!rows || !rows.dataset.poll) return;
  var busy = false;
  setInterval(function () {
    if (busy || document.visibilityState !== "visible" || rows.querySelector("input:checked")) return;
    busy = true;
    fetch(rows.dataset.poll, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && !rows.querySelector("input:checked")) rows.innerHTML = html; })
      .catch(function () { /* offline for a moment: the next tick tries again */ })
      .finally(function () { busy = false; });
  }, 3000);
})();
