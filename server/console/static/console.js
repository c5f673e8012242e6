// ruhu console: progressive enhancement only. Every page works without
// this file; it adds auto-submitting filters, a photo lightbox and
// keyboard focus on the conflict queue. No inline handlers (the CSP
// forbids inline script), no third-party code.
"use strict";
(function () {
  // Filters and period pickers submit when a select changes.
  document.querySelectorAll("form.autosubmit select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.requestSubmit(); });
  });

  // Photo thumbnails open their preview in a dialog; the link still goes
  // to the preview image without script, and the dialog links the original.
  var zooms = document.querySelectorAll("a.zoom");
  if (zooms.length && typeof HTMLDialogElement === "function") {
    var dlg = document.createElement("dialog");
    dlg.className = "lightbox";
    var img = document.createElement("img");
    img.alt = "照片预览";
    var orig = document.createElement("a");
    orig.textContent = "查看原图";
    orig.target = "_blank";
    orig.rel = "noopener";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "关闭";
    close.addEventListener("click", function () { dlg.close(); });
    dlg.addEventListener("click", function (e) { if (e.target === dlg) { dlg.close(); } });
    dlg.append(img, orig, document.createTextNode(" "), close);
    document.body.append(dlg);
    zooms.forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        img.src = a.getAttribute("href");
        orig.href = a.dataset.original || a.getAttribute("href").replace("size=preview", "size=original");
        dlg.showModal();
        close.focus();
      });
    });
  }

  // The conflict queue: focus the chosen value of the first open conflict
  // (or the one named in the URL), so a supervisor can decide with the
  // arrow keys and Enter alone.
  var forms = document.querySelectorAll("form.resolve");
  if (forms.length) {
    var target = forms[0];
    if (location.hash) {
      var sec = document.getElementById(location.hash.slice(1));
      if (sec && sec.querySelector("form.resolve")) { target = sec.querySelector("form.resolve"); }
    }
    var checked = target.querySelector("input[type=radio]:checked") || target.querySelector("input[type=radio]");
    // After load: scrolling to the URL's fragment would take the focus back.
    var focusChoice = function () {
      if (checked && !document.querySelector("[autofocus]")) { checked.focus(); }
    };
    if (document.readyState === "complete") { focusChoice(); } else { window.addEventListener("load", function () { setTimeout(focusChoice, 0); }); }
    forms.forEach(function (f) {
      var other = f.querySelector("input[name=other]");
      var otherRadio = f.querySelector("input[value=other]");
      if (other && otherRadio) {
        other.addEventListener("input", function () { otherRadio.checked = other.value !== ""; });
      }
    });
  }
})();
