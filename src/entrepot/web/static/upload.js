// Uploads each chosen or dropped file in its own request, with a progress bar while it uploads and
// while the worker processes it (polled from the board's status endpoint).
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var list = document.getElementById("upload-list");
  var input = document.getElementById("file-input");
  var zone = document.getElementById("dropzone");
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var L = list.dataset;

  function row(file) {
    var li = document.createElement("li");
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;  // textContent: names are never HTML
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    var state = document.createElement("span");
    state.className = "state";
    li.append(name, bar, state);
    list.append(li);
    return { li: li, bar: bar, state: state };
  }

  function poll(url, r) {
    fetch(url, { credentials: "same-origin" }).then(function (resp) { return resp.json(); }).then(function (s) {
      r.bar.value = s.progress || 0;
      if (s.state === "ready") { r.state.textContent = L.labelDone; r.li.className = "done"; return; }
      if (s.state === "unsupported") { r.state.textContent = L.labelUnsupported; r.li.className = "done"; return; }
      if (s.state === "failed") { r.state.textContent = L.labelFailed + ": " + (s.error || ""); r.li.className = "failed"; return; }
      r.state.textContent = L.labelProcessing + (s.step ? " (" + s.step + ")" : "");
      setTimeout(function () { poll(url, r); }, 1500);
    }).catch(function () { setTimeout(function () { poll(url, r); }, 3000); });
  }

  function send(file) {
    var r = row(file);
    if (file.size > maxBytes) { r.state.textContent = L.labelFailed + ": > " + Math.round(maxBytes / 1048576) + " MB"; r.li.className = "failed"; return; }
    var data = new FormData(form);
    data.delete("file");
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", form.elements.csrf_token.value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { r.bar.value = Math.round(100 * e.loaded / e.total); r.state.textContent = L.labelUploading; }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status >= 400) {
        r.state.textContent = L.labelFailed + ": " + ((body.error && body.error.message) || xhr.status);
        r.li.className = "failed"; return;
      }
      if (!body.created) { r.state.textContent = L.labelDuplicate; r.li.className = "done"; r.bar.value = 100; return; }
      r.bar.value = 0;
      poll(body.status_url, r);
    };
    xhr.onerror = function () { r.state.textContent = L.labelFailed; r.li.className = "failed"; };
    xhr.send(data);
  }

  function take(files) { Array.prototype.forEach.call(files, send); }
  input.addEventListener("change", function () { take(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (ev) {
    zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { take(e.dataTransfer.files); });
})();
