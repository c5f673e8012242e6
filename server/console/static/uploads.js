// ruhu console: the photo upload page. Each file is hashed in the browser
// (SHA-256: the content address the server verifies), sent with the
// vendored tus-js-client to /v1/uploads (resumable: retries after a cut
// connection, and after a page reload the same file continues from the
// server's offset, found by the fingerprint stored in localStorage), then
// its photos record is created through the console (core push).
"use strict";
(function () {
  var form = document.getElementById("upload-form");
  if (!form || typeof tus === "undefined") { return; }
  var input = document.getElementById("files");
  var drop = document.getElementById("drop");
  var list = document.getElementById("file-list");
  var totalBar = document.getElementById("total");
  var totalText = document.getElementById("total-text");
  var csrf = form.elements.csrf.value;
  var dropped = null;

  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("over");
    dropped = e.dataTransfer.files;
    drop.textContent = "已选择 " + dropped.length + " 张照片";
  });

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.set("csrf", csrf);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.message || ("HTTP " + r.status)); }
        return j;
      });
    });
  }

  function hex(buf) {
    return Array.from(new Uint8Array(buf), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // SHA-256 of a file: Web Crypto where the page is a secure context
  // (HTTPS, localhost), else the small implementation below, so a county
  // intranet on plain HTTP works too.
  function sha256(file) {
    return file.arrayBuffer().then(function (buf) {
      if (window.crypto && crypto.subtle) { return crypto.subtle.digest("SHA-256", buf).then(hex); }
      return sha256js(new Uint8Array(buf));
    });
  }

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  function sha256js(data) {
    var n = data.length, padded = new Uint8Array(((n + 9 + 63) >> 6) << 6);
    padded.set(data);
    padded[n] = 0x80;
    var dv = new DataView(padded.buffer);
    dv.setUint32(padded.length - 8, Math.floor(n / 0x20000000));
    dv.setUint32(padded.length - 4, (n << 3) >>> 0);
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var w = new Uint32Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) { w[i] = dv.getUint32(off + i * 4); }
      for (i = 16; i < 64; i++) {
        var a0 = w[i - 15], a1 = w[i - 2];
        var s0 = ((a0 >>> 7) | (a0 << 25)) ^ ((a0 >>> 18) | (a0 << 14)) ^ (a0 >>> 3);
        var s1 = ((a1 >>> 17) | (a1 << 15)) ^ ((a1 >>> 19) | (a1 << 13)) ^ (a1 >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
    }
    var out = new DataView(new ArrayBuffer(32));
    for (i = 0; i < 8; i++) { out.setUint32(i * 4, h[i]); }
    return hex(out.buffer);
  }

  function row(name) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    var bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    var st = document.createElement("span");
    st.className = "state";
    st.textContent = "计算校验值…";
    li.append(label, bar, st);
    list.append(li);
    return { li: li, bar: bar, state: st };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var files = Array.from(dropped || input.files);
    if (!files.length) { input.focus(); return; }
    var household = form.elements.household_id.value.trim();
    var caseID = form.elements.case_id.value.trim();
    var stage = form.elements.stage.value;
    document.getElementById("progress").hidden = false;
    list.textContent = "";
    var sizes = files.map(function (f) { return f.size; });
    var sent = files.map(function () { return 0; });
    var total = sizes.reduce(function (a, b) { return a + b; }, 0) || 1;
    var showTotal = function () {
      var s = sent.reduce(function (a, b) { return a + b; }, 0);
      totalBar.value = s / total;
      totalText.textContent = Math.floor(100 * s / total) + "%";
    };
    var rows = files.map(function (f) { return row(f.name); });
    post("/uploads/token", { household_id: household }).then(function (grant) {
      // The API token lives 15 minutes; a long upload over a slow link
      // gets a fresh one every 10 (each request reads the current one).
      var refresh = setInterval(function () {
        post("/uploads/token", { household_id: household }).then(function (g) { grant.token = g.token; }, function () {});
      }, 10 * 60 * 1000);
      var pending = files.length;
      var finished = function () { if (--pending === 0) { clearInterval(refresh); } };
      var seen = {};
      files.forEach(function (file, i) {
        var r = rows[i];
        r.li.dataset.state = "hashing";
        sha256(file).then(function (sha) {
          r.li.dataset.sha256 = sha;
          if (seen[sha]) {
            r.state.textContent = "重复照片，已跳过";
            r.li.dataset.state = "duplicate";
            finished();
            sent[i] = sizes[i];
            showTotal();
            return;
          }
          seen[sha] = true;
          var recordID = "ph-" + sha.slice(0, 16) + "-" + household;
          var upload = new tus.Upload(file, {
            endpoint: grant.endpoint,
            onBeforeRequest: function (req) { req.setHeader("Authorization", "Bearer " + grant.token); },
            metadata: { sha256: sha, kind: "photo", collection: "photos", record_id: recordID, area: grant.area,
              filename: file.name, filetype: file.type || "image/jpeg" },
            chunkSize: 256 * 1024,
            retryDelays: [0, 500, 1000, 2000, 4000, 8000],
            removeFingerprintOnSuccess: true,
            fingerprint: function () { return Promise.resolve("ruhu-photo-" + sha + "-" + household); },
            onProgress: function (done, size) {
              r.bar.value = done / size;
              r.state.textContent = Math.floor(100 * done / size) + "%";
              r.li.dataset.state = "uploading";
              sent[i] = done;
              showTotal();
            },
            onError: function (err) {
              r.state.textContent = "失败：" + (err.message || err);
              r.li.dataset.state = "error";
              finished();
            },
            onSuccess: function () {
              sent[i] = sizes[i];
              showTotal();
              r.state.textContent = "保存记录…";
              post("/uploads/photos", { household_id: household, case_id: caseID, stage: stage, sha256: sha,
                captured_at: new Date(file.lastModified).toISOString().replace(/\.\d+Z$/, "Z") }).then(function (j) {
                r.bar.value = 1;
                r.state.textContent = "完成";
                r.li.dataset.state = "done";
                r.li.dataset.record = j.record_id;
                finished();
              }, function (err) {
                r.state.textContent = "记录失败：" + err.message;
                r.li.dataset.state = "error";
                finished();
              });
            }
          });
          return upload.findPreviousUploads().then(function (previous) {
            if (previous.length) {
              upload.resumeFromPreviousUpload(previous[0]);
              r.li.dataset.resumed = "1";
            }
            upload.start();
          });
        }).catch(function (err) {
          r.state.textContent = "失败：" + err.message;
          r.li.dataset.state = "error";
          finished();
        });
      });
    }, function (err) {
      rows.forEach(function (r) { r.state.textContent = "无法上传：" + err.message; r.li.dataset.state = "error"; });
    });
  });
})();
