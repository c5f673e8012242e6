// 入户 field app. Hand-written, no build step, no inline script (CSP
// default-src 'self'). Every text from the store is set with textContent.
"use strict";
(function () {
  const view = document.getElementById("view");
  let me = null;

  // ---- helpers ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") setText(e, v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }
  // A date, a time or a size is one word: at 360 px "2026-11-04" must not
  // end a line at its hyphen. setText keeps the text as it is (textContent
  // reads the same) with each such run in a span that does not wrap.
  const unbreakable = /\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?|\d{2}-\d{2} \d{2}:\d{2}|\d+(?:\.\d+)? [KM]?B\b/g;
  function setText(e, v) {
    const t = String(v);
    let at = 0;
    for (const m of t.matchAll(unbreakable)) {
      if (m.index > at) e.append(t.slice(at, m.index));
      const span = document.createElement("span");
      span.className = "nw"; span.textContent = m[0];
      e.append(span);
      at = m.index + m[0].length;
    }
    if (at === 0) e.textContent = t; else if (at < t.length) e.append(t.slice(at));
  }
  // geoError says in Chinese why the browser gave no position (its own
  // message is English).
  function geoError(e) {
    const why = { 1: "未允许本应用使用位置，请在设置中打开定位权限", 2: "暂时无法获得位置，请到开阔处再试", 3: "定位超时，请到开阔处再试" };
    return "定位失败：" + (why[e && e.code] || "请稍后再试");
  }
  class ApiError extends Error {
    constructor(status, body) { super(body.message || ("错误 " + status)); this.status = status; this.code = body.code; this.field = body.field; }
  }
  async function api(method, path, body, raw) {
    const opts = { method, headers: { "X-Ruhu-App": "1" }, credentials: "same-origin" };
    if (raw) { opts.body = raw; opts.headers["Content-Type"] = raw.type || "application/octet-stream"; }
    else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
    const res = await fetch(path, opts);
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (res.status === 423) { showLock(); throw new ApiError(423, data); }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
  function show(...nodes) { view.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined && n !== false)); window.scrollTo(0, 0); }
  function errorBox(err) { return el("p", { class: "error", role: "alert", text: err.message || String(err) }); }
  function setTitle(t) { document.getElementById("title").textContent = t; }
  function fmtBytes(n) { if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB"; if (n >= 1024) return (n / 1024).toFixed(1) + " KB"; return n + " B"; }
  function go(hash) { if (location.hash === hash) render(); else location.hash = hash; }

  // ---- lock ----
  const lock = document.getElementById("lock");
  // The screen behind the lock is emptied: names and addresses must not
  // show through the overlay nor stay in the page for whoever picks the
  // tablet up; unlocking draws the screen again.
  function showLock() {
    view.replaceChildren(); delete document.body.dataset.ready;
    lock.hidden = false; document.getElementById("lock-pin").focus();
  }
  // Unlocking derives the key of the personal fields from the PIN; past the
  // key share's lease (ELEASE) the tablet must sync first: "renew" asks the
  // server for the share, then unlocks with the same PIN.
  async function unlockWith(path) {
    const pin = document.getElementById("lock-pin");
    const errp = document.getElementById("lock-error");
    const renew = document.getElementById("lock-renew");
    try {
      await api("POST", path, { pin: pin.value });
      pin.value = ""; errp.hidden = true; renew.hidden = true; lock.hidden = true; render();
    } catch (e) {
      errp.textContent = e.message; errp.hidden = false;
      renew.hidden = e.code !== "ELEASE";
      if (e.code === "EREVOKED") { pin.value = ""; }
    }
  }
  document.getElementById("lock-form").addEventListener("submit", (ev) => { ev.preventDefault(); unlockWith("/api/lock/unlock"); });
  document.getElementById("lock-renew").addEventListener("click", () => unlockWith("/api/lock/renew"));
  async function checkLock() {
    try {
      const s = await api("GET", "/api/lock");
      if (s.locked) { document.getElementById("lock-renew").hidden = s.lease_valid !== false; showLock(); }
    } catch (e) { /* offline page state */ }
  }
  setInterval(checkLock, 15000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) checkLock(); });

  // ---- router ----
  async function render() {
    const h = location.hash.replace(/^#/, "") || "/";
    const parts = h.split("/").filter(Boolean).map(decodeURIComponent);
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("on", a.getAttribute("href") === "#" + (parts[0] ? "/" + parts[0] : "/")));
    try {
      me = await api("GET", "/api/me");
    } catch (e) { if (e.status !== 423) show(errorBox(e)); return; }
    document.getElementById("who").textContent = me.user ? me.user + (me.device_name ? " · " + me.device_name : "") : "";
    const badge = document.getElementById("nav-badge");
    badge.hidden = !me.rejected; badge.textContent = me.rejected ? String(me.rejected) : "";
    if (!me.enrolled) { document.getElementById("nav").hidden = true; return screenSetup(); }
    document.getElementById("nav").hidden = false;
    try {
      switch (parts[0]) {
        case undefined: return me.role === "team_member" && !parts.length && !sessionStorage.getItem("listed") ? (sessionStorage.setItem("listed", "1"), screenCheckin()) : screenList();
        case "h": return screenHousehold(parts[1]);
        case "visit": return screenForm("visit-" + parts[1]);
        case "draft": return screenForm(parts[1]);
        case "checkin": return screenCheckin();
        case "sync": return screenSync();
        case "status": return screenStatus();
        default: return screenList();
      }
    } catch (e) { if (e.status !== 423) show(errorBox(e)); }
  }
  window.addEventListener("hashchange", render);

  // ---- first run ----
  function screenSetup() {
    setTitle("首次使用");
    const f = el("form", { class: "card", id: "setup" },
      el("p", { class: "muted", text: "首次使用需要联网一次：登录并登记本设备。之后无网络也能工作。" }),
      el("label", { class: "field", for: "s-server", text: "服务器地址" }), el("input", { id: "s-server", name: "server", type: "text", inputmode: "url", autocapitalize: "off", autocomplete: "off", spellcheck: "false", required: true, placeholder: "例如 192.168.1.10:8080" }),
      el("label", { class: "field", for: "s-user", text: "用户名" }), el("input", { id: "s-user", name: "user", required: true, autocomplete: "username", autocapitalize: "off", spellcheck: "false" }),
      el("label", { class: "field", for: "s-pass", text: "密码" }), el("input", { id: "s-pass", name: "password", type: "password", required: true, autocomplete: "current-password" }),
      el("label", { class: "field", for: "s-dev", text: "设备名" }), el("input", { id: "s-dev", name: "device_name", required: true, placeholder: "例如：平板A" }),
      el("label", { class: "field", for: "s-pin", text: "解锁 PIN（4–12 位数字）" }), el("input", { id: "s-pin", name: "pin", type: "password", inputmode: "numeric", required: true }),
      el("div", { id: "s-msg" }),
      el("button", { type: "submit", class: "primary big", text: "登录并登记设备" }));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const v = (n) => f.elements[n].value;
      const msg = document.getElementById("s-msg");
      msg.replaceChildren(el("p", { class: "muted", text: "正在连接服务器…" }));
      try {
        await api("POST", "/api/setup", { server: v("server"), user: v("user"), password: v("password"), device_name: v("device_name"), pin: v("pin") });
        go("#/sync");
      } catch (e) { msg.replaceChildren(errorBox(e)); }
    });
    show(el("h1", { text: "登录并登记设备" }), f);
  }

  // ---- 我的农户 ----
  async function screenList() {
    setTitle("我的农户");
    const q = sessionStorage.getItem("q") || "";
    const search = el("input", { id: "search", type: "search", placeholder: "按户主姓名或村名搜索", value: q, "aria-label": "搜索" });
    const list = el("div", { id: "households" });
    let timer = null;
    async function load() {
      const data = await api("GET", "/api/households?q=" + encodeURIComponent(search.value.trim()));
      sessionStorage.setItem("q", search.value.trim());
      if (!data.households.length) { list.replaceChildren(el("p", { class: "muted", text: search.value ? "没有匹配的农户" : "没有分配给您的农户（请先同步）" })); return; }
      list.replaceChildren(...data.households.map((h) => el("a", { class: "card hh", href: "#/h/" + encodeURIComponent(h.id), "data-id": h.id, "data-state": h.state },
        el("div", { class: "name" }, el("span", { text: h.head || h.id }), el("span", { class: "badge " + h.state, text: h.state_label })),
        el("div", { class: "muted", text: [h.village || h.area, h.status_label, h.last_visit ? "上次走访 " + h.last_visit : "从未走访"].filter(Boolean).join(" · ") }),
        (h.pending || h.rejected) ? el("div", { class: "badges" },
          h.pending ? el("span", { class: "badge pending", "data-badge": "pending", text: "待同步 " + h.pending }) : null,
          h.rejected ? el("span", { class: "badge warn", "data-badge": "rejected", text: "被拒 " + h.rejected }) : null) : null)));
    }
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load().catch((e) => list.replaceChildren(errorBox(e))), 200); });
    show(search, list);
    await load();
    document.body.dataset.ready = "list";
  }

  // ---- household ----
  async function screenHousehold(id) {
    const h = await api("GET", "/api/households/" + encodeURIComponent(id));
    setTitle(h.head || h.id);
    const head = el("div", { class: "card" },
      el("h1", {}, el("span", { text: h.head }), el("span", { class: "badge " + (h.state || ""), text: h.state_label || "" })),
      el("div", { class: "muted", text: [h.village, h.address].filter(Boolean).join(" · ") }),
      el("div", { class: "muted", text: [h.status_label + (h.status_year ? "（" + h.status_year + "）" : ""), h.cadence ? "走访要求：" + h.cadence : "", h.window_end ? "本期截止 " + h.window_end : ""].filter(Boolean).join(" · ") }),
      h.phone ? el("div", { class: "muted", text: "电话 " + h.phone }) : null,
      el("div", { class: "actions" }, el("a", { class: "button primary", id: "new-visit", href: "#/visit/" + encodeURIComponent(h.id), text: h.has_draft ? "继续填写走访" : "新建走访" }),
        el("a", { class: "button", id: "new-income", href: "#/draft/" + encodeURIComponent("income-" + h.id), text: "收入调查" }),
        el("a", { class: "button", id: "new-exit-step", href: "#/draft/" + encodeURIComponent("exitstep-" + h.id), text: "退出程序" })));
    const members = el("div", { class: "card" }, el("h2", { text: "家庭成员" }),
      h.members.length ? el("table", {}, el("tbody", {}, h.members.map((m) => el("tr", {}, el("td", { text: m.name }), el("td", { text: m.relation_label || m.relation }), el("td", { class: "idno", text: m.id_number }))))) : el("p", { class: "muted", text: "本机没有成员记录" }));
    const open = el("div", { class: "card" }, el("h2", { text: "待办事项" }),
      h.open_items.length ? el("ul", {}, h.open_items.map((o) => el("li", { class: o.kind === "rejected" ? "error" : "", text: o.text }))) : el("p", { class: "muted", text: "无" }));
    const visits = el("div", { class: "card" }, el("h2", { text: "最近走访" }),
      // One visit a row of two lines (a three-column table squeezes the
      // badges to a character a line at 360 px).
      h.visits.length ? el("div", { class: "visits" }, h.visits.map((v) => el("div", { class: "visit", "data-visit": v.id },
        el("div", {}, el("span", { text: v.visited_at }), v.pending ? el("span", { class: "badge pending", text: "待同步" }) : null, v.problems.length ? el("span", { class: "badge warn", text: v.problems.length + " 项问题" }) : null),
        el("div", { class: "muted", text: "帮扶干部 " + v.officer + (v.answered_by ? " · 受访：" + v.answered_by : "") })))) : el("p", { class: "muted", text: "本机没有走访记录" }));
    const photos = el("div", { class: "card" }, el("h2", { text: "照片" }),
      h.photos.length ? el("div", { class: "photos" }, h.photos.map((p) => el("figure", {},
        p.on_tablet ? el("img", { src: "/api/blobs/" + p.sha256, alt: "照片" }) : el("div", { class: "muted", text: "已上传" }),
        el("figcaption", {}, el("div", { text: stageLabel(p.stage) }), p.pending ? el("div", { text: "待同步" }) : null)))) : el("p", { class: "muted", text: "没有照片" }));
    show(head, open, members, visits, photos);
    document.body.dataset.ready = "household";
  }
  const stageLabels = { before: "改造前", during: "施工中", after: "竣工后" };
  function stageLabel(s) { return stageLabels[s] || s; }

  // ---- forms generated from the schema ----
  async function screenForm(draftId) {
    const d = await api("GET", "/api/drafts/" + encodeURIComponent(draftId));
    const form = await api("GET", "/api/forms/" + encodeURIComponent(d.collection));
    const isVisit = d.kind === "visit";
    let household = null;
    if (d.household_id) { try { household = await api("GET", "/api/households/" + encodeURIComponent(d.household_id)); } catch (e) { household = null; } }
    const isRecord = d.kind === "record";
    setTitle(isVisit ? "走访：" + (household ? household.head : d.household_id) : isRecord ? form.title : "修改后重新保存");
    let strokes = d.strokes || [];
    let gps = d.gps || null;
    const f = el("form", { id: "record-form", novalidate: true, "data-collection": form.collection });
    const msg = el("div", { id: "form-msg" });
    let saveTimer = null;
    function values() {
      const out = {};
      for (const e of f.elements) {
        if (!e.name || e.dataset.skip) continue;
        if (e.type === "radio") { if (e.checked) out[e.name] = e.value; }
        else if (e.type === "checkbox") out[e.name] = e.checked ? "true" : "false";
        else out[e.name] = e.value;
      }
      return out;
    }
    async function persist() { clearTimeout(saveTimer); return api("PUT", "/api/drafts/" + encodeURIComponent(d.id), { values: values(), strokes, gps }); }
    function changed() { clearTimeout(saveTimer); saveTimer = setTimeout(() => persist().catch(() => {}), 400); }

    function input(fd) {
      const v = d.values[fd.name] || "";
      const label = el("label", { class: "field", for: "f-" + fd.name, text: fd.title + (fd.required ? " *" : "") });
      const help = fd.help ? el("div", { class: "help", text: fd.help }) : null;
      switch (fd.widget) {
        case "group":
          return el("fieldset", { "data-field": fd.name }, el("legend", { text: fd.title }), help, fd.fields.map(input));
        case "radio":
          return el("div", { "data-field": fd.name }, el("div", { class: "row-title", text: fd.title + (fd.required ? " *" : "") }), help,
            el("div", { class: "choices" }, fd.options.map((o) => {
              const r = el("input", { type: "radio", name: fd.name, value: o.value, checked: v === o.value });
              const l = el("label", { class: v === o.value ? "on" : "" }, r, el("span", { text: o.label }));
              r.addEventListener("change", () => { l.parentNode.querySelectorAll("label").forEach((x) => x.classList.toggle("on", x.contains(x.querySelector("input:checked")))); });
              return l;
            })));
        case "select":
          return el("div", { "data-field": fd.name }, label, help, el("select", { id: "f-" + fd.name, name: fd.name },
            el("option", { value: "", text: "—" }), fd.options.map((o) => el("option", { value: o.value, selected: v === o.value, text: o.label }))));
        case "textarea":
          return el("div", { "data-field": fd.name }, label, help, (() => { const t = el("textarea", { id: "f-" + fd.name, name: fd.name, maxlength: fd.max_length || null }); t.value = v; return t; })());
        case "number":
          return el("div", { "data-field": fd.name }, label, help, el("input", { id: "f-" + fd.name, name: fd.name, type: "number", inputmode: "decimal", step: fd.type === "integer" ? "1" : "any", min: fd.min, max: fd.max, value: v }));
        case "checkbox":
          return el("div", { "data-field": fd.name }, el("label", { class: "field" }, el("input", { type: "checkbox", name: fd.name, checked: v === "true" }), " ", fd.title), help);
        case "date":
          return el("div", { "data-field": fd.name }, label, help, el("input", { id: "f-" + fd.name, name: fd.name, type: "date", value: v }));
        case "datetime":
          return el("div", { "data-field": fd.name }, label, help, el("input", { id: "f-" + fd.name, name: fd.name, type: "datetime-local", value: v }));
        case "member":
          if (!household) return null;
          return el("div", { "data-field": fd.name }, label, help, el("select", { id: "f-" + fd.name, name: fd.name },
            el("option", { value: "", text: "其他人（在下面填写姓名）" }),
            household.members.map((m) => el("option", { value: m.id, selected: v === m.id, text: m.name + "（" + (m.relation_label || m.relation) + "）" }))));
        case "gps":
          if (!isVisit) return null;
          return gpsWidget(fd);
        case "photos":
          if (!isVisit && !isRecord) return null;
          return photosWidget(fd);
        default:
          return el("div", { "data-field": fd.name }, label, help, el("input", { id: "f-" + fd.name, name: fd.name, type: "text", maxlength: fd.max_length || null, value: v }));
      }
    }
    function gpsWidget(fd) {
      const out = el("span", { id: "gps-text", class: "muted", text: gps ? fmtGPS(gps) : "尚未定位" });
      const b = el("button", { type: "button", id: "gps-button", text: "获取位置" });
      b.addEventListener("click", () => {
        out.textContent = "正在定位…";
        if (!navigator.geolocation) { out.textContent = "此设备不支持定位"; return; }
        navigator.geolocation.getCurrentPosition((p) => {
          gps = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy * 10) / 10 };
          out.textContent = fmtGPS(gps); changed();
        }, (e) => { out.textContent = geoError(e); }, { enableHighAccuracy: true, timeout: 20000 });
      });
      return el("div", { "data-field": fd.name }, el("div", { class: "row-title", text: fd.title }), el("div", { class: "actions" }, b), out);
    }
    function photosWidget(fd) {
      const list = el("div", { class: "photos", id: "photo-list" });
      function draw(dd) {
        list.replaceChildren(...(dd.photos || []).map((p) => el("figure", { "data-photo": p.n },
          el("img", { src: "/api/drafts/" + encodeURIComponent(d.id) + "/photos/" + p.n, alt: "照片" }),
          el("figcaption", { text: stageLabel(p.stage) + " · " + fmtBytes(p.size) }),
          el("button", { type: "button", text: "删除", onclick: async () => { draw(await api("DELETE", "/api/drafts/" + encodeURIComponent(d.id) + "/photos/" + p.n)); } }))));
      }
      draw(d);
      const stage = el("select", { id: "photo-stage", "data-skip": "1", "aria-label": "照片阶段" }, ["before", "during", "after"].map((s) => el("option", { value: s, text: stageLabel(s) })));
      // The browser's own file button reads "Choose Files / No file
      // chosen" in its language and is small: a big Chinese button (a
      // label for the input, which stays focusable for the keyboard).
      const file = el("input", { id: "photo-input", class: "file-input", type: "file", accept: "image/*", capture: "environment", multiple: true, "data-skip": "1" });
      const pick = el("label", { for: "photo-input", class: "button", id: "photo-pick", text: "拍照或选择照片" });
      file.addEventListener("change", async () => {
        let last = null;
        for (const fl of file.files) {
          last = await api("POST", "/api/drafts/" + encodeURIComponent(d.id) + "/photos?stage=" + stage.value + "&name=" + encodeURIComponent(fl.name), undefined, fl);
        }
        file.value = "";
        if (last) { d.photos = last.photos; draw(last); }
      });
      return el("div", { "data-field": fd.name }, el("div", { class: "row-title", text: fd.title + "（按阶段拍照）" }), stage, file, el("div", { class: "actions" }, pick), list);
    }
    function signatureWidget() {
      const c = el("canvas", { id: "signature", width: 600, height: 240 });
      const ctx = c.getContext("2d");
      let cur = null, t0 = 0;
      function pos(ev) { const r = c.getBoundingClientRect(); return { x: Math.round((ev.clientX - r.left) * c.width / r.width), y: Math.round((ev.clientY - r.top) * c.height / r.height) }; }
      function redraw() {
        ctx.clearRect(0, 0, c.width, c.height); ctx.lineWidth = 3; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
        for (const s of strokes) { ctx.beginPath(); s.forEach((p, i) => i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)); ctx.stroke(); }
      }
      c.addEventListener("pointerdown", (ev) => { ev.preventDefault(); c.setPointerCapture(ev.pointerId); if (!strokes.length) t0 = performance.now(); const p = pos(ev); cur = [{ x: p.x, y: p.y, t: Math.round(performance.now() - t0) }]; strokes.push(cur); });
      c.addEventListener("pointermove", (ev) => { if (!cur || cur.length >= 1000) return; const p = pos(ev); cur.push({ x: p.x, y: p.y, t: Math.round(performance.now() - t0) }); redraw(); });
      const end = () => { if (cur) { cur = null; redraw(); changed(); } };
      c.addEventListener("pointerup", end); c.addEventListener("pointercancel", end);
      redraw();
      return el("div", { class: "card", "data-field": "signature_id" }, el("div", { class: "row-title", text: "户主或受访人签字" }), el("div", { class: "help", text: "请农户本人在框内签名" }), c,
        el("div", { class: "actions" }, el("button", { type: "button", id: "signature-clear", text: "清除签字", onclick: () => { strokes = []; redraw(); changed(); } })));
    }
    function fmtGPS(g) { return g.lat.toFixed(5) + ", " + g.lon.toFixed(5) + "（精度 ±" + g.accuracy_m + " 米）"; }

    f.append(...form.fields.map(input).filter(Boolean));
    if (form.show_when) {
      // Only the chosen value's fields (an exit step's); fields no value lists stay.
      const sw = form.show_when, listed = new Set(Object.values(sw.fields).flat());
      const toggle = () => {
        const picked = (f.elements[sw.field] && f.elements[sw.field].value) || "";
        const shown = new Set(sw.fields[picked] || []);
        f.querySelectorAll("[data-field]").forEach((x) => { const n = x.dataset.field; if (listed.has(n)) x.hidden = !shown.has(n); });
      };
      f.addEventListener("change", toggle);
      toggle();
    }
    f.addEventListener("input", changed);
    f.addEventListener("change", changed);
    // A field marked by a refused save stops being marked once it is
    // changed, and the refusal that named it goes with it.
    const unmark = (ev) => { const x = ev.target.closest && ev.target.closest(".invalid"); if (x) { x.classList.remove("invalid"); msg.replaceChildren(); } };
    f.addEventListener("input", unmark);
    f.addEventListener("change", unmark);
    const saveBtn = el("button", { type: "submit", class: "primary big", id: "save", text: "保存" });
    f.append(...[isVisit || form.collection === "exit_steps" ? signatureWidget() : null].filter(Boolean), msg, el("div", { class: "actions" },
      el("button", { type: "button", id: "discard", text: "放弃草稿", onclick: async () => { await api("DELETE", "/api/drafts/" + encodeURIComponent(d.id)); go(d.household_id ? "#/h/" + encodeURIComponent(d.household_id) : "#/sync"); } }),
      saveBtn));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      saveBtn.disabled = true;
      f.querySelectorAll(".invalid").forEach((x) => x.classList.remove("invalid"));
      try {
        await persist();
        const r = await api("POST", "/api/drafts/" + encodeURIComponent(d.id) + "/save");
        msg.replaceChildren(el("p", { class: "ok", id: "saved", "data-id": r.id, text: "已保存，待同步" }));
        document.body.dataset.saved = r.id;
        setTimeout(() => go(d.household_id && (isVisit || isRecord) ? "#/h/" + encodeURIComponent(d.household_id) : "#/sync"), 600);
      } catch (e) {
        msg.replaceChildren(errorBox(e));
        if (e.field) { const x = f.querySelector('[data-field="' + CSS.escape(e.field) + '"]'); if (x) { x.classList.add("invalid"); x.scrollIntoView(); } }
      } finally { saveBtn.disabled = false; }
    });
    show(d.reason ? el("div", { class: "warnbox", text: "服务器拒绝的原因：" + d.reason }) : null,
      el("h1", { text: form.title + (household ? " · " + household.head : "") }), f);
    document.body.dataset.ready = "form";
  }

  // ---- check-in ----
  async function screenCheckin() {
    setTitle("驻村签到");
    let data;
    try { data = await api("GET", "/api/residency"); } catch (e) {
      if (e.code === "ENOTFOUND") { show(el("div", { class: "card" }, el("p", { text: "您不在任何驻村工作队中，无需签到。" }))); return; }
      throw e;
    }
    const r = data.residency;
    const msg = el("div", { id: "checkin-msg" });
    const btn = el("button", { class: "primary big", id: "checkin-button", text: "签到" });
    btn.addEventListener("click", () => {
      msg.replaceChildren(el("p", { class: "muted", text: "正在定位…" }));
      btn.disabled = true;
      navigator.geolocation.getCurrentPosition(async (p) => {
        try {
          await api("POST", "/api/checkins", { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy * 10) / 10 });
          await screenCheckin();
          document.getElementById("checkin-msg").replaceChildren(el("p", { class: "ok", id: "checked-in", text: "签到成功，待同步" }));
        } catch (e) { msg.replaceChildren(errorBox(e)); btn.disabled = false; }
      }, (e) => { msg.replaceChildren(errorBox(new Error(geoError(e)))); btn.disabled = false; }, { enableHighAccuracy: true, timeout: 20000 });
    });
    const dd = el("form", { id: "duty-form", class: "card" }, el("h2", { text: "申请公务外出（计入驻村天数）" }),
      el("label", { class: "field", for: "duty-date", text: "日期" }), el("input", { id: "duty-date", name: "date", type: "date", required: true }),
      el("label", { class: "field", for: "duty-kind", text: "类型" }), el("select", { id: "duty-kind", name: "kind", required: true }, el("option", { value: "", text: "请选择" }), data.kind_options.map((o) => el("option", { value: o.value, text: o.label }))),
      el("label", { class: "field", for: "duty-note", text: "说明" }), el("input", { id: "duty-note", name: "note" }),
      el("div", { id: "duty-msg" }), el("div", { class: "actions" }, el("button", { type: "submit", id: "duty-submit", text: "提交申请" })));
    dd.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/api/duty_days", { date: dd.elements.date.value, kind: dd.elements.kind.value, note: dd.elements.note.value }); await screenCheckin(); }
      catch (e) { document.getElementById("duty-msg").replaceChildren(errorBox(e)); }
    });
    show(el("div", { class: "card" },
      el("div", { class: "muted", text: (r.VillageName || r.Village) + " · " + r.Month.replace(/^(\d{4})-0?(\d{1,2})$/, "$1年$2月") }),
      el("div", {}, el("span", { class: "bigcount", id: "counted-days", text: String(r.Days) }), el("span", { text: " / " + r.Required + " 天" })),
      el("progress", { max: r.Required, value: Math.min(r.Days, r.Required) }),
      el("div", { class: "muted", id: "residency-detail", text: "签到 " + r.CheckinDays + " 天 · 公务外出 " + r.DutyDays + " 天" + (r.NotCounted ? " · 不计入的签到 " + r.NotCounted + " 次（不在村内或定位精度不足）" : "") })),
      btn, msg,
      el("div", { class: "card" }, el("h2", { text: "本月签到" }), data.checkins.length ? el("table", {}, el("tbody", {}, data.checkins.map((c) => el("tr", {},
        el("td", { text: c.at }), el("td", { text: "±" + c.accuracy_m + " 米" }), el("td", {}, c.pending ? el("span", { class: "badge pending", text: "待同步" }) : null))))) : el("p", { class: "muted", text: "本月尚未签到" })),
      dd,
      data.duty_days.length ? el("div", { class: "card" }, el("h2", { text: "公务外出申请" }), el("table", {}, el("tbody", {}, data.duty_days.map((x) => el("tr", {},
        el("td", { text: x.date }), el("td", { text: x.kind_label }), el("td", { text: x.approved ? "已批准" : "待批准" }),
        el("td", {}, x.pending ? el("span", { class: "badge pending", text: "待同步" }) : null)))))) : null);
    document.body.dataset.ready = "checkin";
  }

  // ---- sync ----
  let polling = null;
  async function screenSync() {
    setTitle("同步");
    const s = await api("GET", "/api/sync");
    const metered = el("input", { type: "radio", name: "network", value: "metered", id: "net-metered", checked: s.metered_default });
    const unmetered = el("input", { type: "radio", name: "network", value: "unmetered", id: "net-unmetered", checked: !s.metered_default });
    const start = el("button", { class: "primary big", id: "sync-start", text: "开始同步" });
    const recBar = el("progress", { id: "records-progress", max: 1, value: 0 });
    const fileBar = el("progress", { id: "files-progress", max: 1, value: 0 });
    const recText = el("div", { class: "muted", id: "records-text" });
    const fileText = el("div", { class: "muted", id: "files-text" });
    const state = el("div", { id: "sync-state" });
    const rejected = el("div", { id: "rejected" });
    const conflicts = el("div", { id: "conflicts" });
    function draw(p) {
      recBar.max = Math.max(p.to_push, 1); recBar.value = p.phase === "records" ? p.pushed : recBar.max;
      recText.textContent = "上传 " + p.pushed + "/" + p.to_push + " 条 · 下载 " + p.pulled + " 条" + (p.rejected ? " · 被拒 " + p.rejected + " 条" : "");
      fileBar.max = Math.max(p.file_total, 1); fileBar.value = p.phase === "done" && !p.file_total ? 1 : p.file_bytes;
      fileText.textContent = p.files || p.phase !== "done" ? "文件 " + p.files_done + "/" + p.files + " 个 · " + fmtBytes(p.file_bytes) + "/" + fmtBytes(p.file_total) : "没有要上传的文件";
      fileText.textContent += (p.deferred ? " · " + p.deferred + " 张原图等待 Wi-Fi" : "") + (p.failed_files ? " · " + p.failed_files + " 个失败，下次重试" : "");
      if (!p.phase && p.waiting) {
        // No sync has run since the app started: what waits, not zeros.
        const q = p.waiting;
        recBar.max = 1; recBar.value = 0; fileBar.max = 1; fileBar.value = 0;
        recText.textContent = q.ops ? "待上传 " + q.ops + " 条记录" : "没有待上传的记录";
        fileText.textContent = q.files ? "待上传 " + q.files + " 个文件（" + fmtBytes(q.bytes) + (q.originals ? "，其中 " + q.originals + " 张原图等 Wi-Fi" : "") + "）" : "没有待上传的文件";
      }
      // "Done" only when everything went: refused records and files that
      // did not go are said where the officer looks first.
      const left = [p.rejected ? p.rejected + " 条记录被服务器拒绝，请在下面修改后重新保存" : "", p.failed_files ? p.failed_files + " 个文件未能上传，下次同步时重试" : ""].filter(Boolean);
      const words = { records: "正在同步记录…", files: "正在上传照片和签字…",
        done: left.length ? "同步已结束 " + (p.finished_at || "") + "，但 " + left.join("；") : "同步完成 " + (p.finished_at || ""),
        error: p.records_done ? "记录已同步；照片和签字上传中断：" + (p.error || "") + "，下次同步时继续" : "同步失败：" + (p.error || "") };
      const cls = p.phase === "error" || (p.phase === "done" && left.length) ? "error" : (p.phase === "done" ? "ok" : "muted");
      state.replaceChildren(p.phase ? el("p", { class: cls, id: "sync-phase", "data-phase": p.phase, text: words[p.phase] || "" }) : el("p", { class: "muted", text: "先同步记录，再上传照片和签字文件" }),
        ...(p.clock_warning ? [el("div", { class: "warnbox", id: "clock-warning", text: p.clock_warning })] : []));
      start.disabled = p.running;
    }
    async function loadRejected() {
      const r = await api("GET", "/api/rejected");
      rejected.replaceChildren(el("h2", { text: "被服务器拒绝的记录" }), r.rejected.length ? el("div", {}, r.rejected.map((x) => el("div", { class: "card", "data-op": x.op_id },
        el("div", { text: x.collection_title + " · " + x.at }), el("div", { class: "error reason", "data-code": x.code, text: x.reason }),
        el("div", { class: "muted", text: x.field_title ? "请修改：" + x.field_title : "记录内容：" + x.field_titles.join("、") }),
        x.fixable ? el("button", { type: "button", class: "fix", text: "修改后重新保存", onclick: async () => { const d = await api("POST", "/api/rejected/" + encodeURIComponent(x.op_id) + "/fix"); go("#/draft/" + encodeURIComponent(d.id)); } }) : null))) : el("p", { class: "muted", id: "no-rejected", text: "没有被拒绝的记录" }));
    }
    // Conflicts that involve my edits: the field, my value against the
    // other's, and where the township's decision stands.
    async function loadConflicts() {
      const r = await api("GET", "/api/conflicts");
      const note = r.error ? el("p", { class: "error", id: "conflicts-error", text: r.error })
        : el("p", { class: "muted", text: r.fetched ? "服务器 " + r.fetched_at + " 的情况，由乡镇审核人员裁决" : "同步后显示" });
      const row = (cls, who, x) => el("tr", { class: cls + (x.winner ? " win" : "") }, el("th", { text: who }),
        el("td", {}, el("div", { class: "cf-value", text: x.value }), el("div", { class: "muted cf-meta" }, x.winner ? el("span", { class: "cf-current", text: "当前采用" }) : null, x.at)));
      conflicts.replaceChildren(el("h2", { text: "与我有关的冲突" }), note, r.conflicts.length ? el("div", {}, r.conflicts.map((c) => el("div", { class: "card conflict", "data-conflict": c.id, "data-status": c.status },
        el("div", { class: "row-title", text: c.record }),
        el("div", { class: "cf-field", text: "字段：" + c.field_label }),
        el("table", { class: "cf-values" }, el("tbody", {}, c.mine.map((m) => row("cf-mine", "我的值", m)), c.others.map((o) => row("cf-other", o.author + " 的值", o)))),
        el("div", { class: "cf-status " + (c.status === "open" ? "open" : "ok"), text: c.status_label })))) : (r.fetched ? el("p", { class: "muted", id: "no-conflicts", text: "没有与我有关的冲突" }) : null));
      conflicts.dataset.loaded = r.fetched ? "fetched" : "not-fetched";
    }
    function refreshConflicts() { delete conflicts.dataset.loaded; loadConflicts().catch((e) => { conflicts.replaceChildren(errorBox(e)); conflicts.dataset.loaded = "error"; }); }
    async function poll() {
      const p = await api("GET", "/api/sync");
      draw(p);
      if (p.running) polling = setTimeout(() => poll().catch(() => {}), 300);
      else { polling = null; await loadRejected(); refreshConflicts(); document.body.dataset.sync = p.phase; }
    }
    start.addEventListener("click", async () => {
      document.body.dataset.sync = "running";
      const p = await api("POST", "/api/sync", { unmetered: unmetered.checked });
      draw(p); clearTimeout(polling); poll().catch((e) => state.replaceChildren(errorBox(e)));
    });
    draw(s);
    show(el("div", { class: "card" },
      el("div", { class: "row-title", text: "照片原图" }),
      el("div", { class: "choices" }, el("label", {}, metered, el("span", { text: "仅 Wi-Fi 时上传原图（省流量）" })), el("label", {}, unmetered, el("span", { text: "已连 Wi-Fi：现在上传原图" })))),
      start, el("div", { class: "card" }, el("div", { class: "row-title", text: "记录" }), recBar, recText, el("div", { class: "row-title", text: "照片和签字" }), fileBar, fileText, state),
      rejected, conflicts);
    const syncChoices = view.querySelectorAll(".choices label");
    const mark = () => syncChoices.forEach((l) => l.classList.toggle("on", l.querySelector("input").checked));
    syncChoices.forEach((l) => l.querySelector("input").addEventListener("change", mark)); mark();
    await loadRejected();
    refreshConflicts();
    if (s.running) poll();
    document.body.dataset.ready = "sync";
  }

  // ---- status ----
  async function screenStatus() {
    setTitle("状态");
    const s = await api("GET", "/api/status");
    const rows = [["用户", s.user + "（" + s.role_label + "）"], ["服务器", s.server], ["设备", s.device_name + "（" + s.device_id + "）"],
      ["待上传记录", s.pending_ops + " 条"], ["待上传文件", s.pending_files + " 个（" + fmtBytes(s.pending_file_bytes) + (s.pending_originals ? "，其中 " + s.pending_originals + " 张原图等 Wi-Fi" : "") + "）"],
      ["被拒绝", s.rejected_ops + " 条"], ["已上传记录", s.sent_ops + " 条"], ["草稿", s.drafts + " 份"],
      ["上次同步", s.last_sync || "从未"], ["本机占用空间", fmtBytes(s.storage_bytes)], ["应用版本", s.app_version],
      ["表单版本", s.form_versions.map((x) => x.title + " v" + x.version).join("，")]];
    const pin = el("form", { class: "card", id: "pin-form" }, el("h2", { text: "解锁 PIN" }),
      el("label", { class: "field", for: "pin-current", text: "当前 PIN" }), el("input", { id: "pin-current", name: "current", type: "password", inputmode: "numeric" }),
      el("label", { class: "field", for: "pin-new", text: "新 PIN（4–12 位数字）" }), el("input", { id: "pin-new", name: "pin", type: "password", inputmode: "numeric", required: true }),
      el("div", { id: "pin-msg" }), el("div", { class: "actions" }, el("button", { type: "submit", text: "修改 PIN" }),
        el("button", { type: "button", id: "lock-now", text: "立即锁定", onclick: async () => { await api("POST", "/api/lock/lock"); showLock(); } })));
    pin.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await api("POST", "/api/lock/pin", { pin: pin.elements.pin.value, current: pin.elements.current.value }); document.getElementById("pin-msg").replaceChildren(el("p", { class: "ok", text: "PIN 已修改" })); }
      catch (e) { document.getElementById("pin-msg").replaceChildren(errorBox(e)); }
    });
    show(s.clock_warning ? el("div", { class: "warnbox", text: s.clock_warning }) : null,
      el("div", { class: "card" }, el("table", { id: "status-table" }, el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v })))))), pin);
    document.body.dataset.ready = "status";
  }

  render();
})();
