// The chat page: one WebSocket per tab. Events carry a per-user number; the page acknowledges them and
// resumes after the last one it has when it reconnects. Messages typed while offline wait in
// localStorage with a client id and are sent on reconnect; the server ignores a repeated client id.
(function () {
  "use strict";
  var root = document.getElementById("messenger");
  if (!root) return;
  var L = root.dataset, me = parseInt(L.user, 10);
  var csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  var selected = parseInt(L.selected, 10) || null;
  var list = document.getElementById("message-list");
  var status = document.getElementById("connection");
  var queueKey = "entrepot-outbox-" + me;
  var seqKey = "entrepot-seq-" + me;
  var lastSeq = Math.max(parseInt(L.since, 10) || 0, 0);
  var ws = null, backoff = 500, readUpTo = 0, reads = {};

  function outbox() { try { return JSON.parse(localStorage.getItem(queueKey) || "[]"); } catch (e) { return []; } }
  function saveOutbox(items) { localStorage.setItem(queueKey, JSON.stringify(items)); }
  function uuid() { return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).slice(0, 64); }

  function render(m, state) {
    if (m.conversation_id !== selected) return;
    var id = m.id ? "m-" + m.id : "c-" + m.client_id;
    var li = document.getElementById(id) || document.getElementById("c-" + m.client_id);
    if (!li) { li = document.createElement("li"); list.append(li); }
    li.id = id;
    li.className = "msg" + (m.sender_id === me ? " mine" : "");
    li.dataset.id = m.id || "";
    li.dataset.client = m.client_id;
    li.textContent = "";
    var who = document.createElement("span"); who.className = "who"; who.textContent = m.sender || "";
    var body = document.createElement("span"); body.className = "body";
    body.textContent = m.deleted ? "(" + L.labelDeleted + ")" : m.body;
    if (m.attachment && !m.deleted && m.id) {
      var holder = document.createElement("div"); holder.className = "body attachment";
      var src = "/messages/attachments/" + m.id;
      if (m.kind === "image") {
        var a = document.createElement("a"); a.href = src; a.target = "_blank"; a.rel = "noopener";
        var img = document.createElement("img"); img.src = src + "?thumb=true"; img.alt = m.attachment.name; img.loading = "lazy";
        a.append(img); holder.append(a);
      } else if (m.kind === "voice") {
        var audio = document.createElement("audio"); audio.controls = true; audio.preload = "none"; audio.src = src;
        holder.append(audio);
        var d = document.createElement("span"); d.className = "duration"; d.textContent = (m.duration_s || 0).toFixed(1) + " s";
        holder.append(d);
      } else {
        var link = document.createElement("a"); link.href = src; link.textContent = "📎 " + m.attachment.name + " (" + Math.ceil(m.attachment.size / 1024) + " KB)";
        holder.append(link);
      }
      if (m.body) { var cap = document.createElement("div"); cap.textContent = m.body; holder.append(cap); }
      body = holder;
    }
    if (m.kind === "quote" && m.quote && !m.deleted) {
      body = document.createElement("div"); body.className = "body quote-card";
      var q = m.quote;
      [[q.product + (q.hs_code ? " · HS " + q.hs_code : ""), "product"],
       [Number(q.price).toLocaleString() + " " + q.currency + " / " + q.unit, "price"],
       [Number(q.quantity).toLocaleString() + " " + q.unit + " · " + q.incoterm + " " + q.place, "terms"],
       [q.valid_until ? "≤ " + q.valid_until : "", "valid"]].forEach(function (row) {
        var line = document.createElement("div"); line.className = row[1]; line.textContent = row[0]; body.append(line);
      });
    }
    var meta = document.createElement("span"); meta.className = "meta";
    meta.textContent = (m.created_at ? m.created_at.slice(11, 16) : "") + (m.edited ? " · " + L.labelEdited : "") +
      (m.sender_id === me ? " · " + (state || (reads.other >= m.id ? L.labelRead : L.labelSent)) : "");
    li.append(who, body, meta);
    if (m.sender_id === me && m.id && !m.deleted) {
      var tools = document.createElement("span"); tools.className = "tools";
      var edit = document.createElement("button"); edit.type = "button"; edit.className = "link"; edit.textContent = "✎";
      edit.title = L.labelEdit;
      edit.onclick = function () {
        var text = prompt(L.labelEdit, m.body);
        if (text !== null && text.trim()) api("PATCH", "/api/v1/messages/" + m.id, { body: text });
      };
      var del = document.createElement("button"); del.type = "button"; del.className = "link"; del.textContent = "✕";
      del.title = L.labelDelete;
      del.onclick = function () { if (confirm(L.labelDelete + "?")) api("DELETE", "/api/v1/messages/" + m.id); };
      if (m.kind === "text") tools.append(edit);
      tools.append(del);
      li.append(tools);
    }
    list.scrollTop = list.scrollHeight;
  }

  function markRead() {
    var ids = Array.prototype.map.call(list.querySelectorAll("li[data-id]"), function (li) { return parseInt(li.dataset.id, 10) || 0; });
    var top = Math.max.apply(null, [0].concat(ids));
    if (top > readUpTo && ws && ws.readyState === 1 && document.visibilityState === "visible") {
      readUpTo = top;
      ws.send(JSON.stringify({ type: "read", conversation_id: selected, up_to: top }));
    }
  }

  function refreshReceipts() {
    list.querySelectorAll("li.mine").forEach(function (li) {
      var meta = li.querySelector(".meta");
      if (meta && parseInt(li.dataset.id, 10) <= reads.other) meta.textContent = meta.textContent.replace(L.labelSent, L.labelRead);
    });
  }

  function onEvent(frame) {
    lastSeq = Math.max(lastSeq, frame.seq);
    localStorage.setItem(seqKey, String(lastSeq));
    var p = frame.payload;
    if (frame.event === "message" || frame.event === "message.edited" || frame.event === "message.deleted") {
      render(p);
      if (p.conversation_id !== selected) {
        var item = document.querySelector('#conversation-list li[data-id="' + p.conversation_id + '"]') ||
          addConversation({ id: p.conversation_id, title: p.sender });
        var badge = item.querySelector(".badge") || item.appendChild(document.createElement("span"));
        badge.className = "badge unread"; badge.textContent = String((parseInt(badge.textContent, 10) || 0) + 1);
      }
      markRead();
    } else if (frame.event === "read" && p.conversation_id === selected && p.user_id !== me) {
      reads.other = Math.max(reads.other || 0, p.up_to);
      refreshReceipts();
    } else if (frame.event === "conversation") {
      addConversation(p);
    }
  }

  function api(method, url, body) {
    return fetch(url, { method: method, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" } });
  }

  function addConversation(c) {
    var existing = document.querySelector('#conversation-list li[data-id="' + c.id + '"]');
    if (existing) return existing;
    var li = document.createElement("li"); li.dataset.id = c.id;
    var a = document.createElement("a"); a.href = "/messages?conversation=" + c.id; a.textContent = c.title || L.labelNew;
    li.append(a);
    document.getElementById("conversation-list").prepend(li);
    return li;
  }

  function flush() {
    outbox().forEach(function (m) { ws.send(JSON.stringify({ type: "send", client_id: m.client_id, conversation_id: m.conversation_id, body: m.body })); });
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws?since=" + lastSeq);
    ws.onopen = function () { backoff = 500; status.textContent = ""; flush(); };
    ws.onmessage = function (e) {
      var f = JSON.parse(e.data);
      if (f.type === "event") { onEvent(f); ws.send(JSON.stringify({ type: "ack", seq: f.seq })); }
      else if (f.type === "sent") {
        saveOutbox(outbox().filter(function (m) { return m.client_id !== f.client_id; }));
        var li = document.getElementById("c-" + f.client_id);
        if (li) li.id = "m-" + f.message_id;
      } else if (f.type === "ping") { ws.send(JSON.stringify({ type: "pong" })); }
      else if (f.type === "error") {
        status.textContent = f.message;
        if (f.client_id) saveOutbox(outbox().filter(function (m) { return m.client_id !== f.client_id; }));
      }
    };
    ws.onclose = function () {
      status.textContent = L.labelOffline;
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  function load() {
    if (!selected) return;
    fetch("/api/v1/conversations/" + selected + "/reads", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (marks) {
      Object.keys(marks).forEach(function (k) { if (parseInt(k, 10) !== me) reads.other = Math.max(reads.other || 0, marks[k]); });
      return fetch("/api/v1/conversations/" + selected + "/messages", { credentials: "same-origin" });
    }).then(function (r) { return r.json(); }).then(function (msgs) {
      msgs.forEach(function (m) { render(m); });
      outbox().forEach(function (m) { render(m, L.labelPending); });
      markRead();
    });
  }

  document.getElementById("compose").addEventListener("submit", function (e) {
    e.preventDefault();
    var area = e.target.elements.body;
    if (!selected || !area.value.trim()) return;
    var m = { client_id: uuid(), conversation_id: selected, body: area.value, sender_id: me };
    saveOutbox(outbox().concat([m]));
    render(m, L.labelPending);
    area.value = "";
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "send", client_id: m.client_id, conversation_id: selected, body: m.body }));
  });
  function upload(file, voice) {
    if (!selected) return;
    var data = new FormData();
    data.append("file", file, file.name || "voice.webm");
    data.append("client_id", uuid());
    if (voice) data.append("voice", "true");
    status.textContent = "…";
    fetch("/api/v1/conversations/" + selected + "/attachments", { method: "POST", credentials: "same-origin", body: data,
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
      .then(function (res) { status.textContent = res[0] ? "" : (res[1].error && res[1].error.message) || "error"; });
  }
  document.getElementById("attach-input").addEventListener("change", function (e) {
    Array.prototype.forEach.call(e.target.files, function (f) { upload(f, false); });
    e.target.value = "";
  });
  var recorder = null, chunks = [];
  var recordButton = document.getElementById("record");
  var recordLabel = recordButton.textContent;
  recordButton.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") { recorder.stop(); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = [];
      recorder = new MediaRecorder(stream, { mimeType: "audio/webm;codecs=opus" });
      recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        recordButton.textContent = recordLabel;
        upload(new File(chunks, "voice.webm", { type: "audio/webm" }), true);
      };
      recorder.start();
      recordButton.textContent = recordButton.dataset.labelStop;
    }).catch(function (err) { status.textContent = String(err); });
  });
  document.getElementById("quote-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!selected || !ws || ws.readyState !== 1) return;
    var f = e.target.elements, quote = {};
    ["product", "hs_code", "quantity", "unit", "price", "currency", "incoterm", "place", "valid_until"].forEach(function (k) { quote[k] = f[k].value; });
    ws.send(JSON.stringify({ type: "quote", client_id: uuid(), conversation_id: selected, quote: quote }));
    e.target.reset();
    document.getElementById("quote-box").open = false;
  });
  document.getElementById("compose").elements.body.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.target.form.requestSubmit(); }
  });
  document.getElementById("new-conversation").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = e.target;
    var ids = Array.prototype.map.call(form.elements.user_ids.selectedOptions, function (o) { return parseInt(o.value, 10); });
    fetch("/api/v1/conversations", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify({ user_ids: ids, title: form.elements.title.value || null }) })
      .then(function (r) { return r.json(); }).then(function (c) { if (c.id) location.href = "/messages?conversation=" + c.id; });
  });
  document.addEventListener("visibilitychange", markRead);
  var stored = parseInt(localStorage.getItem(seqKey) || "0", 10);
  if (stored > lastSeq) lastSeq = stored;
  load();
  connect();
})();
