package main

import (
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// screenProblemsJS lists what an officer holding a 360 px phone would find
// wrong on the screen shown: a page that scrolls sideways, something drawn
// past the screen's edge, a control smaller than a fingertip (44 px), an
// input without a label (a screen reader reads nothing), a screen title
// cut off, a button, badge, table heading or header text whose words
// break over lines (the one-character-per-line column), a date, time or
// size split over two lines, and machine text — a snake_case key, an
// error code such as EINVALID, an ISO timestamp or JSON — where a sentence
// in Chinese belongs.
const screenProblemsJS = `(() => {
  const out = [];
  const W = document.documentElement.clientWidth;
  const visible = (e) => {
    const s = getComputedStyle(e);
    if (s.visibility === "hidden" || s.display === "none" || +s.opacity === 0) return false;
    const r = e.getBoundingClientRect();
    return r.width > 1 && r.height > 1;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : "") + " «" + (e.textContent || e.value || "").trim().slice(0, 24) + "»";
  const lines = (node, start, end) => {
    const r = document.createRange(); r.setStart(node, start); r.setEnd(node, end);
    const tops = new Set();
    for (const q of r.getClientRects()) if (q.width > 0.5) tops.add(Math.round(q.bottom));
    return tops.size;
  };
  if (document.documentElement.scrollWidth > W + 1) out.push("page scrolls sideways: " + document.documentElement.scrollWidth + " px wide");
  for (const e of document.querySelectorAll("#view *, header *")) {
    if (!visible(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.right > W + 1 || r.left < -1) out.push("off screen: " + name(e));
  }
  const title = document.getElementById("title");
  if (title && title.scrollWidth > title.clientWidth + 1) out.push("screen title cut off: " + name(title));
  for (const e of document.querySelectorAll("button, a.button, nav a, .choices label, input, select, textarea")) {
    if (!visible(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.height < 44 || r.width < 44) out.push("touch target " + Math.round(r.width) + "x" + Math.round(r.height) + ": " + name(e));
  }
  for (const e of document.querySelectorAll("#view input, #view select, #view textarea, #lock:not([hidden]) input")) {
    if (e.type === "hidden" || e.labels.length || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby")) continue;
    out.push("no label: " + name(e) + " name=" + e.name);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement, t = n.textContent;
    if (!p || !t.trim() || !visible(p) || p.closest("script, style, option")) continue;
    if (p.closest("button, a.button, .badge, th, nav a, header") && lines(n, 0, t.length) > 1) out.push("label broken over lines: " + name(p));
    for (const m of t.matchAll(/\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?|\d{2}-\d{2} \d{2}:\d{2}|\d+(?:\.\d+)? [KM]?B\b/g))
      if (lines(n, m.index, m.index + m[0].length) > 1) out.push("broken over lines: " + m[0] + " in " + name(p));
    const machine = t.match(/\b[a-z]+_[a-z_]+\b|\bE[A-Z]{5,}\b|\d{4}-\d{2}-\d{2}T\d{2}:|[{\[]"/);
    if (machine) out.push("machine text " + JSON.stringify(machine[0]) + ": " + t.trim().slice(0, 60));
  }
  return out;
})()`

// requireReadableScreen fails the test with every problem
// screenProblemsJS finds on the screen the tab shows; screen names it in
// the message (and matches the screenshot taken of it).
func requireReadableScreen(t *testing.T, tab *browsertest.Tab, screen string) {
	t.Helper()
	if problems := browsertest.Eval[[]string](tab, screenProblemsJS); len(problems) > 0 {
		t.Errorf("%s screen:\n  %s", screen, strings.Join(problems, "\n  "))
	}
}
