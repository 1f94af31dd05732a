// The chat page: one WebSocket per tab. Events carry a per-user number; the page acknowledges them and
// resumes after the last one it has when it reconnects. Messages typed while offline wait in
// localStorage with a client id and are sent on reconnect; the server ignores a repeated client id.
// Message text is never parsed as HTML: formatting arrives as a tree of plain data (see
// entrepot/messaging/richtext.py) and becomes elements through createElement and textContent only.
(function () {
  "use strict";
  var root = document.getElementById("messenger");
  if (!root) return;
  var L = root.dataset, me = parseInt(L.user, 10);
  var csrf = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
  var selected = parseInt(L.selected, 10) || null;
  var jumpTo = parseInt(L.jump, 10) || null;
  var list = document.getElementById("message-list");
  var status = document.getElementById("connection");
  var typingBox = document.getElementById("typing");
  var queueKey = "entrepot-outbox-" + me;
  var seqKey = "entrepot-seq-" + me;
  var lastSeq = Math.max(parseInt(L.since, 10) || 0, 0);
  var ws = null, backoff = 500, readUpTo = 0;
  var detail = null, marks = {}, replyTo = null, oldest = null, exhausted = false, removed = false;
  var typers = {}, lastTypingSent = 0;
  var TYPING_EVERY = 3000, TYPING_SHOWN = 6000;

  function outbox() { try { return JSON.parse(localStorage.getItem(queueKey) || "[]"); } catch (e) { return []; } }
  function saveOutbox(items) { localStorage.setItem(queueKey, JSON.stringify(items)); }
  function uuid() { return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).slice(0, 64); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // -- formatting ------------------------------------------------------------------------------
  function safeHref(href) {
    try {
      var u = new URL(href);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) { return null; }
  }
  function richNodes(nodes, parent, depth) {
    (nodes || []).forEach(function (n) {
      if (typeof n === "string") { parent.append(document.createTextNode(n)); return; }
      if (!n || typeof n !== "object" || depth > 4) return;
      if (n.t === "br") { parent.append(document.createElement("br")); return; }
      var tag = { b: "strong", i: "em", code: "code" }[n.t];
      if (tag) { var e = document.createElement(tag); richNodes(n.c, e, depth + 1); parent.append(e); return; }
      if (n.t === "a") {
        var text = (n.c || []).filter(function (c) { return typeof c === "string"; }).join("");
        var href = safeHref(n.href);
        if (!href) { parent.append(document.createTextNode(text)); return; }
        var a = document.createElement("a");
        a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; a.textContent = text;
        parent.append(a);
      }
    });
  }
  function textBody(m) {
    var body = el("span", "body");
    if (m.deleted) body.textContent = "(" + L.labelDeleted + ")";
    else if (m.rich) richNodes(m.rich, body, 0);
    else body.textContent = m.body || "";
    return body;
  }

  // -- receipts --------------------------------------------------------------------------------
  function others() { return detail ? detail.members.filter(function (x) { return x.id !== me; }) : []; }
  function stateOf(id) {
    var o = others(), n = o.length;
    if (!n) return ["sent", L.labelSent];
    var read = o.filter(function (x) { return (marks[x.id] || {}).read >= id; }).length;
    var got = o.filter(function (x) { return Math.max((marks[x.id] || {}).delivered || 0, (marks[x.id] || {}).read || 0) >= id; }).length;
    // In a group, how many of the others have it: "delivered 2/3 · read 1/3".
    var part = function (k) { return n > 1 && k < n ? " " + k + "/" + n : ""; };
    if (read === n) return ["read", L.labelRead];
    var readPart = read ? " · " + L.labelRead + part(read) : "";
    if (got) return [got === n ? "delivered" : "delivered-some", L.labelDelivered + part(got) + readPart];
    return ["sent", L.labelSent];
  }
  function metaText(m, state) {
    var text = (m.created_at ? m.created_at.slice(11, 16) : "") + (m.edited ? " · " + L.labelEdited : "");
    if (m.sender_id !== me) return [text, ""];
    var s = state ? ["pending", state] : (m.id ? stateOf(m.id) : ["pending", L.labelPending]);
    return [text + " · " + s[1], s[0]];
  }
  function refreshReceipts() {
    list.querySelectorAll("li.mine").forEach(function (li) {
      var id = parseInt(li.dataset.id, 10), meta = li.querySelector(".meta");
      if (!id || !meta || !li._message) return;
      var t = metaText(li._message);
      meta.textContent = t[0]; meta.dataset.state = t[1];
    });
  }
  function mark(userId, kind, upTo) {
    var m = marks[userId] = marks[userId] || { read: 0, delivered: 0 };
    m[kind] = Math.max(m[kind] || 0, upTo);
  }

  // -- messages --------------------------------------------------------------------------------
  function place(li, id) {
    if (li.parentNode === list) return;
    if (!id) { list.append(li); return; }
    var after = Array.prototype.find.call(list.children, function (c) {
      var cid = parseInt(c.dataset.id, 10);
      return !cid || cid > id;
    });
    list.insertBefore(li, after || null);
  }

  function render(m, state, older) {
    if (m.conversation_id !== selected) return;
    var id = m.id ? "m-" + m.id : "c-" + m.client_id;
    var li = document.getElementById(id) || document.getElementById("c-" + m.client_id) || el("li");
    li.id = id;
    li.className = "msg" + (m.sender_id === me ? " mine" : "");
    li.dataset.id = m.id || "";
    li.dataset.client = m.client_id;
    li._message = m;
    li.textContent = "";
    var who = el("span", "who", m.sender || "");
    li.append(who);
    var parent = m.reply_to || (m.reply_to_id && { id: m.reply_to_id, sender: "", excerpt: "" });
    if (parent) {
      var quote = el("button", "reply-quote");
      quote.type = "button";
      quote.dataset.target = parent.id;
      quote.append(el("strong", null, parent.sender || ""), document.createTextNode(" "),
        el("span", null, parent.deleted ? "(" + L.labelDeleted + ")" : parent.excerpt));
      quote.onclick = function () { jump(parent.id); };
      li.append(quote);
    }
    var body = textBody(m);
    if (m.attachment && !m.deleted && m.id) {
      var holder = el("div", "body attachment");
      var src = "/messages/attachments/" + m.id;
      if (m.kind === "image") {
        var a = el("a"); a.href = src; a.target = "_blank"; a.rel = "noopener";
        var img = el("img"); img.src = src + "?thumb=true"; img.alt = m.attachment.name; img.loading = "lazy";
        a.append(img); holder.append(a);
      } else if (m.kind === "voice") {
        var audio = el("audio"); audio.controls = true; audio.preload = "none"; audio.src = src;
        holder.append(audio);
        holder.append(el("span", "duration", (m.duration_s || 0).toFixed(1) + " s"));
      } else {
        var link = el("a", null, "📎 " + m.attachment.name + " (" + Math.ceil(m.attachment.size / 1024) + " KB)");
        link.href = src;
        holder.append(link);
      }
      if (m.body) { var cap = el("div"); cap.append(textBody(m)); holder.append(cap); }
      body = holder;
    }
    if (m.kind === "quote" && m.quote && !m.deleted) {
      body = el("div", "body quote-card");
      var q = m.quote;
      [[q.product + (q.hs_code ? " · HS " + q.hs_code : ""), "product"],
       [Number(q.price).toLocaleString() + " " + q.currency + " / " + q.unit, "price"],
       [Number(q.quantity).toLocaleString() + " " + q.unit + " · " + q.incoterm + " " + q.place, "terms"],
       [q.valid_until ? "≤ " + q.valid_until : "", "valid"]].forEach(function (row) { body.append(el("div", row[1], row[0])); });
    }
    var t = metaText(m, state);
    var meta = el("span", "meta", t[0]);
    if (t[1]) meta.dataset.state = t[1];
    li.append(body, meta);
    if (m.id && !m.deleted) {
      var tools = el("span", "tools");
      var reply = el("button", "link reply", "↩");
      reply.type = "button"; reply.title = L.labelReply; reply.setAttribute("aria-label", L.labelReply);
      reply.onclick = function () { startReply(m); };
      tools.append(reply);
      if (m.sender_id === me) {
        var edit = el("button", "link", "✎"); edit.type = "button"; edit.title = L.labelEdit;
        edit.onclick = function () {
          var text = prompt(L.labelEdit, m.body);
          if (text !== null && text.trim()) api("PATCH", "/api/v1/messages/" + m.id, { body: text });
        };
        var del = el("button", "link", "✕"); del.type = "button"; del.title = L.labelDelete;
        del.onclick = function () { if (confirm(L.labelDelete + "?")) api("DELETE", "/api/v1/messages/" + m.id); };
        if (m.kind === "text") tools.append(edit);
        tools.append(del);
      }
      li.append(tools);
    }
    place(li, m.id);
    if (m.id && (oldest === null || m.id < oldest)) oldest = m.id;
    if (!older) list.scrollTop = list.scrollHeight;
  }

  function startReply(m) {
    replyTo = { id: m.id, sender: m.sender, excerpt: (m.body || (m.attachment && m.attachment.name) || "").slice(0, 140) };
    var preview = document.getElementById("reply-preview");
    preview.textContent = "";
    preview.append(el("strong", null, m.sender || ""), document.createTextNode(" " + replyTo.excerpt));
    document.getElementById("reply-bar").hidden = false;
    document.getElementById("compose").elements.body.focus();
  }
  function cancelReply() { replyTo = null; document.getElementById("reply-bar").hidden = true; }

  function loadOlder() {
    if (!selected || exhausted || oldest === null) return Promise.resolve(false);
    return fetch("/api/v1/conversations/" + selected + "/messages?before=" + oldest, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (msgs) {
        if (!msgs.length) { exhausted = true; return false; }
        msgs.forEach(function (m) { render(m, null, true); });
        return true;
      });
  }

  function jump(id, tries) {
    var target = document.getElementById("m-" + id);
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.classList.add("highlight");
      setTimeout(function () { target.classList.remove("highlight"); }, 2500);
      return;
    }
    if ((tries || 0) > 40) { status.textContent = L.labelNotLoaded; return; }
    loadOlder().then(function (more) {
      if (more) jump(id, (tries || 0) + 1);
      else status.textContent = L.labelNotLoaded;
    });
  }

  function markRead() {
    var ids = Array.prototype.map.call(list.querySelectorAll("li[data-id]"), function (li) { return parseInt(li.dataset.id, 10) || 0; });
    var top = Math.max.apply(null, [0].concat(ids));
    if (top > readUpTo && ws && ws.readyState === 1 && document.visibilityState === "visible" && !removed) {
      readUpTo = top;
      ws.send(JSON.stringify({ type: "read", conversation_id: selected, up_to: top }));
    }
  }

  // -- conversations and members ---------------------------------------------------------------
  function conversationItem(c) {
    var existing = document.querySelector('#conversation-list li[data-id="' + c.id + '"]');
    if (existing) return existing;
    var li = el("li"); li.dataset.id = c.id;
    var a = el("a", null, c.title || L.labelNew); a.href = "/messages?conversation=" + c.id;
    li.append(a);
    document.getElementById("conversation-list").prepend(li);
    return li;
  }
  function toTop(li) { var ul = document.getElementById("conversation-list"); if (ul.firstElementChild !== li) ul.prepend(li); }

  function noLongerMember() {
    removed = true;
    status.textContent = L.labelRemoved;
    var form = document.getElementById("compose");
    Array.prototype.forEach.call(form.elements, function (e) { e.disabled = true; });
    var add = document.getElementById("add-members"); if (add) add.hidden = true;
  }

  function loadDetail() {
    if (!selected) return Promise.resolve();
    return fetch("/api/v1/conversations/" + selected, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 403) { noLongerMember(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (d) {
      if (!d) return;
      detail = d;
      d.members.forEach(function (x) { mark(x.id, "read", x.read_up_to); mark(x.id, "delivered", x.delivered_up_to); });
      document.getElementById("chat-title").textContent = d.title;
      var ul = document.getElementById("member-list");
      ul.textContent = "";
      d.members.forEach(function (x) {
        var li = el("li", "member", x.name); li.dataset.user = x.id;
        if (x.id === d.owner_id) li.append(el("small", "muted", " (" + L.labelOwner + ")"));
        var mine = x.id === me;
        if (d.kind === "group" && ((d.can_manage && !mine) || (mine && x.id !== d.owner_id))) {
          var b = el("button", "link remove", "✕"); b.type = "button";
          b.title = mine ? L.labelLeave : L.labelRemove; b.setAttribute("aria-label", b.title + ": " + x.name);
          b.onclick = function () { removeMember(x.id); };
          li.append(b);
        }
        ul.append(li);
      });
      var add = document.getElementById("add-members");
      add.hidden = !d.can_manage;
      var ids = d.members.map(function (x) { return x.id; });
      Array.prototype.forEach.call(add.elements.user_ids.options, function (o) {
        o.hidden = o.disabled = ids.indexOf(parseInt(o.value, 10)) >= 0;
      });
      refreshReceipts();
    });
  }

  function showError(id, r) {
    return r.json().then(function (b) {
      document.getElementById(id).textContent = (b.error && b.error.message) || String(r.status);
    }, function () { document.getElementById(id).textContent = String(r.status); });
  }

  function removeMember(userId) {
    api("DELETE", "/api/v1/conversations/" + selected + "/members/" + userId).then(function (r) {
      if (!r.ok) return showError("members-error", r);
      document.getElementById("members-error").textContent = "";
      if (userId === me) location.href = "/messages";
      else loadDetail();
    });
  }

  // -- typing ----------------------------------------------------------------------------------
  function showTyping() {
    var names = Object.keys(typers).map(function (k) { return typers[k].name; });
    typingBox.textContent = names.length ? names.join(", ") + " " + L.labelTyping : "";
  }
  function onTyping(f) {
    if (f.conversation_id !== selected || f.user_id === me) return;
    var t = typers[f.user_id];
    if (t) clearTimeout(t.timer);
    typers[f.user_id] = { name: f.name, timer: setTimeout(function () { delete typers[f.user_id]; showTyping(); }, TYPING_SHOWN) };
    showTyping();
  }
  function stopTyping(userId) {
    if (typers[userId]) { clearTimeout(typers[userId].timer); delete typers[userId]; showTyping(); }
  }

  // -- events ----------------------------------------------------------------------------------
  function onEvent(frame) {
    lastSeq = Math.max(lastSeq, frame.seq);
    localStorage.setItem(seqKey, String(lastSeq));
    var p = frame.payload;
    if (frame.event === "message" || frame.event === "message.edited" || frame.event === "message.deleted") {
      render(p);
      var item = document.querySelector('#conversation-list li[data-id="' + p.conversation_id + '"]') ||
        conversationItem({ id: p.conversation_id, title: p.sender });
      if (frame.event === "message") { toTop(item); stopTyping(p.sender_id); }
      if (p.conversation_id !== selected && frame.event === "message" && p.sender_id !== me) {
        var badge = item.querySelector(".badge") || item.appendChild(el("span"));
        badge.className = "badge unread"; badge.textContent = String((parseInt(badge.textContent, 10) || 0) + 1);
      }
      markRead();
    } else if (frame.event === "read" && p.conversation_id === selected) {
      mark(p.user_id, "read", p.up_to);
      refreshReceipts();
    } else if (frame.event === "delivered" && p.conversation_id === selected) {
      mark(p.user_id, "delivered", p.up_to);
      refreshReceipts();
    } else if (frame.event === "members" && p.conversation_id === selected) {
      loadDetail();
    } else if (frame.event === "conversation") {
      toTop(conversationItem(p));
    } else if (frame.event === "conversation.removed") {
      var gone = document.querySelector('#conversation-list li[data-id="' + p.removed_from + '"]');
      if (gone) gone.remove();
      if (p.removed_from === selected) noLongerMember();
    }
  }

  function api(method, url, body) {
    return fetch(url, { method: method, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" } });
  }

  function sendFrame(m) {
    var f = { type: "send", client_id: m.client_id, conversation_id: m.conversation_id, body: m.body };
    if (m.reply_to_id) f.reply_to_id = m.reply_to_id;
    ws.send(JSON.stringify(f));
  }
  function flush() { outbox().forEach(sendFrame); }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/ws?since=" + lastSeq);
    ws.onopen = function () { backoff = 500; if (!removed) status.textContent = ""; flush(); markRead(); };
    ws.onmessage = function (e) {
      var f = JSON.parse(e.data);
      if (f.type === "event") { onEvent(f); ws.send(JSON.stringify({ type: "ack", seq: f.seq })); }
      else if (f.type === "typing") { onTyping(f); }
      else if (f.type === "sent") {
        saveOutbox(outbox().filter(function (m) { return m.client_id !== f.client_id; }));
        var li = document.getElementById("c-" + f.client_id);
        if (li) li.id = "m-" + f.message_id;
      } else if (f.type === "ping") { ws.send(JSON.stringify({ type: "pong" })); }
      else if (f.type === "error") {
        status.textContent = f.message;
        if (f.client_id) {
          saveOutbox(outbox().filter(function (m) { return m.client_id !== f.client_id; }));
          var failed = document.getElementById("c-" + f.client_id);
          if (failed) failed.classList.add("failed");
        }
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
    var badge = document.querySelector('#conversation-list li[data-id="' + selected + '"] .badge');
    if (badge) badge.remove();
    loadDetail().then(function () {
      if (removed) return null;
      return fetch("/api/v1/conversations/" + selected + "/messages", { credentials: "same-origin" });
    }).then(function (r) { return r && r.ok ? r.json() : []; }).then(function (msgs) {
      msgs.forEach(function (m) { render(m); });
      outbox().forEach(function (m) { render(m, L.labelPending); });
      if (jumpTo) jump(jumpTo);
      markRead();
    });
  }

  // -- forms -----------------------------------------------------------------------------------
  var compose = document.getElementById("compose");
  compose.addEventListener("submit", function (e) {
    e.preventDefault();
    var area = e.target.elements.body;
    if (!selected || removed || !area.value.trim()) return;
    var m = { client_id: uuid(), conversation_id: selected, body: area.value, sender_id: me };
    if (replyTo) { m.reply_to_id = replyTo.id; m.reply_to = replyTo; }
    saveOutbox(outbox().concat([m]));
    render(m, L.labelPending);
    area.value = "";
    cancelReply();
    lastTypingSent = 0;
    if (ws && ws.readyState === 1) sendFrame(m);
  });
  compose.elements.body.addEventListener("input", function () {
    var now = Date.now();
    if (!selected || removed || !ws || ws.readyState !== 1 || now - lastTypingSent < TYPING_EVERY) return;
    lastTypingSent = now;
    ws.send(JSON.stringify({ type: "typing", conversation_id: selected }));
  });
  compose.elements.body.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.target.form.requestSubmit(); }
    else if (e.key === "Escape") cancelReply();
  });
  document.getElementById("reply-cancel").addEventListener("click", cancelReply);

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
  document.getElementById("new-conversation").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = e.target;
    var ids = Array.prototype.map.call(form.elements.user_ids.selectedOptions, function (o) { return parseInt(o.value, 10); });
    api("POST", "/api/v1/conversations", { user_ids: ids, title: form.elements.title.value || null }).then(function (r) {
      if (!r.ok) return showError("new-conversation-error", r);
      return r.json().then(function (c) { location.href = "/messages?conversation=" + c.id; });
    });
  });
  var addForm = document.getElementById("add-members");
  if (addForm) addForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var ids = Array.prototype.map.call(addForm.elements.user_ids.selectedOptions, function (o) { return parseInt(o.value, 10); });
    if (!ids.length) return;
    api("POST", "/api/v1/conversations/" + selected + "/members", { user_ids: ids }).then(function (r) {
      if (!r.ok) return showError("members-error", r);
      document.getElementById("members-error").textContent = "";
      addForm.reset();
      loadDetail();
    });
  });
  document.addEventListener("visibilitychange", markRead);
  var stored = parseInt(localStorage.getItem(seqKey) || "0", 10);
  if (stored > lastSeq) lastSeq = stored;
  load();
  connect();
})();
