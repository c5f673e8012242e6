package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// saveReadmeShot writes a README image when it is missing or when
// RUHU_UPDATE_SCREENSHOTS=1.
func saveReadmeShot(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "screenshots", name)
	if _, err := os.Stat(path); err == nil && os.Getenv("RUHU_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tab.SaveScreenshotTo(path)
}

// browserLogin signs in through the login form with the mouse.
func browserLogin(tab *browsertest.Tab, f *fixture, user string) {
	tab.Do(
		chromedp.Navigate(f.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("nav.menu")),
	)
}

// The county office's day: log in, see last month's roll-up with its
// findings, drill down to a village, open the demo household with both
// renovation photos and the stale signature, resolve the open address
// conflict by choosing the other value, and see it gone; the API then
// shows it resolved with that value.
func TestCountyUserFlow(t *testing.T) {
	t.Parallel()
	f := demo(t)
	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "county")

	tab.Do(chromedp.Navigate(f.url + "/?period=" + f.month.Label))
	if h := tab.Text("h1"); !strings.Contains(h, "合规总览") {
		t.Fatalf("overview heading = %q", h)
	}
	if n := tab.Text("#tile-findings .n"); n == "0" {
		t.Errorf("overview shows no photo findings")
	}
	if n := tab.Text("#tile-conflicts .n"); n == "0" {
		t.Errorf("overview shows no open conflicts")
	}
	if n := tab.Text("#tile-total .n"); n == "0" {
		t.Errorf("overview shows no compliance findings for %s", f.month.Label)
	}
	if bars := browsertest.Eval[int](tab, `document.querySelectorAll("svg.chart rect.bar.bar-overdue title").length`); bars != 2 {
		t.Errorf("chart has %d overdue bars, want one per township (2)", bars)
	}
	tab.Screenshot("overview")
	saveReadmeShot(t, tab, "console-overview.png")

	// Drill down: county → township → village → household.
	tab.Do(
		chromedp.Click(chromedp.CSS(`table.rollup a[href^="/?area=340199001&"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.rollup a[href="/households?area=340199001001"]`)),
	)
	if h := tab.Text("nav.crumbs"); !strings.Contains(h, "340199001") {
		t.Errorf("crumbs after drill-down = %q", h)
	}
	tab.Screenshot("township")
	tab.Do(
		chromedp.Click(chromedp.CSS(`table.rollup a[href="/households?area=340199001001"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#households a[href="/households/`+demoHousehold+`"]`)),
	)
	tab.Screenshot("village")
	tab.Do(
		chromedp.Click(chromedp.CSS(`#households a[href="/households/`+demoHousehold+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#photos")),
	)
	// Both renovation photos are shown (thumbnails loaded), before and after.
	tab.WaitJS(`Array.from(document.querySelectorAll("#photos .stage img")).filter(i => i.complete && i.naturalWidth > 0).length >= 2`)
	if st := tab.Text("#photos"); !strings.Contains(st, "改造前") || !strings.Contains(st, "竣工后") {
		t.Errorf("photos section = %q", st)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('#signatures [data-status="stale"]').length`); n != 1 {
		t.Errorf("%d stale signatures shown, want 1", n)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('#signatures [data-status="valid"]').length`); n != 1 {
		t.Errorf("%d valid signatures shown, want 1 (the acceptance)", n)
	}
	if txt := tab.Text("#findings"); !strings.Contains(txt, "感知哈希") {
		t.Errorf("the reused-photo finding is missing from the household file: %q", txt)
	}
	if id := tab.Text("#fields"); !strings.Contains(id, "340199********") {
		t.Errorf("member ID number not masked as the API masks it: %q", id)
	}
	tab.Screenshot("household")
	saveReadmeShot(t, tab, "console-household.png")

	// The preview opens in the dialog from the thumbnail.
	tab.Do(chromedp.Click(chromedp.CSS("#photos a.zoom")))
	tab.WaitJS(`document.querySelector("dialog.lightbox").open && document.querySelector("dialog.lightbox img").naturalWidth > 0`)
	tab.Screenshot("preview")
	tab.Do(chromedp.Click(chromedp.CSS("dialog.lightbox button")))

	// Resolve the address conflict, choosing the value that lost the merge.
	cf := f.apiConflict(t, "address")
	var loser json.RawMessage
	for _, c := range cf.Candidates {
		if !c.Winner {
			loser = c.Value
		}
	}
	tab.Do(chromedp.Navigate(f.url + "/conflicts"))
	card := "#c-" + cf.ID
	tab.Do(
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Click(chromedp.CSS(card+` label.cand:not(:has(input:checked)):not(.other) input`)),
		chromedp.SendKeys(chromedp.CSS(card+` input[name=note]`), "已电话核实：已搬迁"),
	)
	if sub := tab.Text(card + " .sub"); !strings.HasPrefix(sub, "建档立卡户") {
		t.Errorf("the conflict names its collection by the machine name: %q", sub)
	}
	tab.Screenshot("conflict-chosen")
	tab.Do(
		chromedp.Click(chromedp.CSS(card+` button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#resolved-notice")),
	)
	if n := browsertest.Eval[int](tab, `document.querySelectorAll("`+card+`").length`); n != 0 {
		t.Errorf("the resolved conflict is still in the open queue")
	}
	tab.Screenshot("conflict-resolved")
	got := f.apiConflict(t, "address")
	if got.Status != "resolved" || got.Resolution == nil || got.Resolution.By != "county" || string(got.Resolution.Value) != string(loser) {
		t.Errorf("API shows %+v (resolution %+v), want resolved by county to %s", got, got.Resolution, loser)
	}
	// The resolved conflict stays visible with who resolved it.
	tab.Do(chromedp.Navigate(f.url + "/conflicts?status=resolved"))
	if txt := tab.Text(card); !strings.Contains(txt, "county") || !strings.Contains(txt, "已搬迁") {
		t.Errorf("resolved conflict shows %q", txt)
	}
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// A township user gets the same not-found page for another township's
// household as for an unknown id, and the roll-up covers only its
// township.
func TestTownshipUserSeesOnlyItsTownship(t *testing.T) {
	t.Parallel()
	f := demo(t)
	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "township1")

	tab.Do(chromedp.Navigate(f.url + "/?period=" + f.month.Label))
	rows := browsertest.Eval[[]string](tab, `Array.from(document.querySelectorAll("table.rollup tbody th small")).map(e => e.textContent)`)
	if len(rows) != 2 {
		t.Errorf("roll-up rows = %q, want the 2 villages of 340199001", rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, "340199001") {
			t.Errorf("roll-up row %q is outside the township", r)
		}
	}
	tab.Screenshot("overview")

	page := func(id string) string {
		tab.Do(chromedp.Navigate(f.url + "/households/" + id))
		return browsertest.Eval[string](tab, `document.querySelector("main").outerHTML`)
	}
	other := page(otherTownshipH)
	tab.Screenshot("other-township")
	unknown := page("h99999999999999")
	if other != unknown || !strings.Contains(other, "未找到") {
		t.Errorf("another township's household:\n%s\nunknown id:\n%s", other, unknown)
	}
	// The county's area is refused for a township user.
	tab.Do(chromedp.Navigate(f.url + "/?area=" + county))
	if h := tab.Text("h1"); h != "无权访问" {
		t.Errorf("county roll-up for township1: %q", h)
	}
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// A household whose head is named <img src=x onerror=alert(1)> shows those
// characters, in the list and in its file, and runs nothing.
func TestMarkupIsShownAsText(t *testing.T) {
	t.Parallel()
	f := demo(t)
	tab := browsers.Tab(t, browsertest.Phone)
	browserLogin(tab, f, "county")
	tab.Do(chromedp.Navigate(f.url + "/households?area=" + demoArea))
	if txt := tab.Text("#households"); !strings.Contains(txt, xssName) {
		t.Errorf("list does not show the name as text: %q", txt)
	}
	// On a 390-px phone every row's badges stay on screen: the list is a
	// stack of cards there, not a table scrolled sideways out of sight.
	if off := browsertest.Eval[int](tab, `[...document.querySelectorAll("#households tbody .badge")].filter(b => b.getBoundingClientRect().right > window.innerWidth).length`); off != 0 {
		t.Errorf("%d badges of the household list are off the phone's screen", off)
	}
	tab.Screenshot("list")
	tab.Do(chromedp.Navigate(f.url + "/households/" + xssHousehold))
	if h := tab.Text("#head-name"); !strings.Contains(h, xssName) {
		t.Errorf("heading = %q, want the markup as text", h)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('main img[src="x"], main script').length`); n != 0 {
		t.Errorf("%d injected elements in the page", n)
	}
	if w := browsertest.Eval[int](tab, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("household file is %d px wide on a 390 px phone", w)
	}
	tab.Screenshot("file")
	// The other pages fit a phone too: wide tables scroll inside their card.
	for _, p := range []string{"/conflicts", "/findings", "/residency?period=" + f.month.Label, "/reports", "/import",
		"/?period=" + f.month.Label} {
		tab.Do(chromedp.Navigate(f.url + p))
		if w := browsertest.Eval[int](tab, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s is %d px wide on a 390 px phone", p, w)
		}
	}
	tab.Screenshot("overview")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// A form on another site that posts to the console is refused, and
// logging out ends the session in the browser.
func TestCrossSitePostRefusedAndLogout(t *testing.T) {
	t.Parallel()
	f := demo(t)
	cf := f.apiConflict(t, "member_count")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><form id="f" method="post" action="` + f.url + `/conflicts/` + cf.ID + `/resolve">
<input name="choice" value='` + string(cf.Candidates[len(cf.Candidates)-1].Value) + `'><input name="csrf" value="guess"></form>
<script>document.getElementById("f").submit()</script>`))
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site

	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "county")
	tab.Do(chromedp.Navigate(evilURL))
	tab.WaitJS(`location.href.startsWith("` + f.url + `") && document.readyState === "complete"`)
	if body := tab.Text("main"); !strings.Contains(body, "请求被拒绝") {
		t.Errorf("cross-site post answered %q", body)
	}
	tab.Screenshot("csrf-refused")
	if got := f.apiConflict(t, "member_count"); got.Status != "open" {
		t.Errorf("a cross-site post changed the conflict: %s", got.Status)
	}

	tab.Do(chromedp.Navigate(f.url + "/"))
	tab.Do(
		chromedp.Click(chromedp.CSS(".who button")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
	)
	tab.Do(chromedp.Navigate(f.url + "/households"))
	tab.Do(chromedp.WaitVisible(chromedp.CSS("#username")))
	if u := browsertest.Eval[string](tab, "location.pathname"); u != "/login" {
		t.Errorf("after logout /households shows %s", u)
	}
	tab.Screenshot("logged-out")
	tab.RequireNoProblems()
}

// Keyboard only: log in and resolve a conflict without the mouse.
func TestKeyboardOnly(t *testing.T) {
	t.Parallel()
	f := demo(t)
	cf := f.apiConflict(t, "phone")
	tab := browsers.Tab(t, browsertest.Desktop)
	// Tabs of the shared browser run side by side and only one can hold
	// the window focus; a user's window has it.
	if _, err := chromedp.Call(tab.Ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	tab.Do(
		chromedp.Navigate(f.url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
	)
	// The user name field has the focus on arrival.
	tab.Do(
		chromedp.KeyEvent("township1"),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(password),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("nav.menu")),
	)
	tab.Do(chromedp.Navigate(f.url + "/conflicts#c-" + cf.ID))
	tab.WaitJS(`document.activeElement && document.activeElement.name === "choice" && document.activeElement.closest("#c-` + cf.ID + `") !== null`)
	// Arrow to the other candidate, Tab past the free-text field to the
	// note, type it, Enter submits.
	tab.Do(
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent("键盘核实"),
	)
	tab.Screenshot("keyboard-chosen")
	tab.Do(
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#resolved-notice")),
	)
	tab.Screenshot("keyboard-resolved")
	got := f.apiConflict(t, "phone")
	if got.Status != "resolved" || got.Resolution == nil || got.Resolution.By != "township1" || got.Resolution.Note != "键盘核实" {
		t.Fatalf("API shows %+v", got.Resolution)
	}
	if string(got.Resolution.Value) != string(cf.Candidates[1].Value) {
		t.Errorf("resolved to %s, want the other candidate %s", got.Resolution.Value, cf.Candidates[1].Value)
	}
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}
