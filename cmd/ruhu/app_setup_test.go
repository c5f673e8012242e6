package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// TestFieldAppFirstRunInTheBrowser is the officer's first run on a new
// tablet: the setup screen, the server's address typed the way the county
// hands it out (no http://), a wrong password refused in Chinese, then
// the right one enrols the tablet and the app goes on to the sync screen.
func TestFieldAppFirstRunInTheBrowser(t *testing.T) {
	const longDevice = "桃园村第一工作队平板-王建国"
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	tdir := filepath.Join(dir, "tablet-new")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		t.Fatal(err)
	}
	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	// The bare address, as a bookmark would open it, says why it will not
	// open (in a page, not the API's JSON).
	tab.Do(chromedp.Navigate(app.base + "/"))
	tab.WaitJS(`!!document.getElementById("refused")`)
	if got := tab.Text("#refused"); got != "需要本次启动的链接：请从启动器重新打开" {
		t.Errorf("the bare address: %q", got)
	}
	requireReadableScreen(t, tab, "refused")
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`!!document.getElementById("setup")`)
	tab.Screenshot("setup")
	requireReadableScreen(t, tab, "setup")

	fill := func(password string) {
		tab.Do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#setup input").forEach((i) => { i.value = ""; }); document.getElementById("s-msg").replaceChildren()`),
			chromedp.SendKeys(chromedp.CSS("#s-server"), strings.TrimPrefix(srv.url, "http://")),
			chromedp.SendKeys(chromedp.CSS("#s-user"), "wang"),
			chromedp.SendKeys(chromedp.CSS("#s-pass"), password),
			chromedp.SendKeys(chromedp.CSS("#s-dev"), longDevice),
			chromedp.SendKeys(chromedp.CSS("#s-pin"), "2468"),
			chromedp.Click(chromedp.CSS(`#setup button[type="submit"]`)))
	}
	fill("not-the-password")
	tab.WaitJS(`!!document.querySelector("#s-msg .error")`)
	msg := tab.Text("#s-msg .error")
	if msg != "用户名或密码不正确" {
		t.Errorf("wrong password: %q, want 用户名或密码不正确", msg)
	}
	tab.Screenshot("setup-refused")
	requireReadableScreen(t, tab, "setup-refused")

	fill(demoPassword)
	tab.WaitJS(`document.body.dataset.ready === "sync"`)
	if who := tab.Text("#who"); who != "wang · "+longDevice {
		t.Errorf("header after enrolling: %q", who)
	}
	// The first sync brings wang's households; the visit form's title and
	// the long device name share the header at 360 px.
	syncFromScreen(t, tab, app)
	tab.Do(chromedp.Navigate(app.base + "/#/"))
	tab.WaitJS(`document.body.dataset.ready === "list" && !!document.querySelector("#households .hh")`)
	id := browsertest.Eval[string](tab, `document.querySelector("#households .hh").dataset.id`)
	tab.Do(chromedp.Navigate(app.base + "/#/visit/" + id))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	tab.Screenshot("first-visit-form")
	requireReadableScreen(t, tab, "first-visit-form")
	tab.RequireLoopbackOnly()
	// The refused login answered 401 once; nothing else went wrong.
	for _, p := range tab.Problems() {
		if !strings.Contains(p, "401") {
			t.Errorf("page problem: %s", p)
		}
	}
}
