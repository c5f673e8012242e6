package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/assets/signature"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// browsers is the one Chromium of this package's field app tests; TestMain
// (crash_test.go) closes it.
var browsers browsertest.Pool

// appHousehold is a monitored household of 桃园村 that the test's township
// user registers and assigns to wang: never visited, so overdue.
const appHousehold = "happ0001"

// fieldApp is `ruhu tablet --data DIR app` running in this process.
type fieldApp struct {
	url    string // the launch URL, secret included
	base   string
	cancel context.CancelFunc
	done   chan error
}

func startFieldApp(t *testing.T, dataDir string) *fieldApp {
	t.Helper()
	return startFieldAppWith(t, dataDir, nil, nil)
}

// startFieldAppWith starts the app with more tablet flags (before the
// command) and app flags (after it).
func startFieldAppWith(t *testing.T, dataDir string, tabletFlags, appFlags []string) *fieldApp {
	t.Helper()
	args := append(append([]string{"--data", dataDir}, tabletFlags...), "app", "--listen", "127.0.0.1:0")
	args = append(args, appFlags...)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	a := &fieldApp{cancel: cancel, done: make(chan error, 1)}
	var out syncBuffer
	go func() {
		a.done <- runTabletWith(ctx, args, func(string) string { return "" }, &out, &out, ready)
	}()
	select {
	case a.url = <-ready:
	case err := <-a.done:
		t.Fatalf("app did not start: %v\n%s", err, out.String())
	case <-time.After(20 * time.Second):
		t.Fatal("app did not start in 20 s")
	}
	u, _ := url.Parse(a.url)
	a.base = u.Scheme + "://" + u.Host
	t.Cleanup(a.stop)
	return a
}

// stop ends the app as a kill would: the store is closed by the process
// going away, with whatever the last request wrote.
func (a *fieldApp) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// registerOverdueHousehold has township1 register a monitored household
// in 桃园村 with two members and assign it to wang, from a tablet.
func registerOverdueHousehold(t *testing.T, dir, serverURL string) {
	t.Helper()
	tw := newTablet(t, dir, serverURL, "township1")
	ctx := context.Background()
	area := "340199001001"
	save := func(col, id string, fields map[string]any) {
		t.Helper()
		if _, err := tw.Save(ctx, col, id, area, rawFields(t, fields)); err != nil {
			t.Fatalf("save %s/%s: %v", col, id, err)
		}
	}
	save("households", appHousehold, map[string]any{"head_name": "周桂芳", "status": map[string]any{"value": "monitored", "year": 2025},
		"address": "桃园村5组3号", "member_count": 2, "primary_cause": "illness", "phone": "13805519999"})
	save("members", "m"+appHousehold+"a", map[string]any{"household_id": appHousehold, "name": "周桂芳", "relation": "head", "id_number": "340199196501011234"})
	save("members", "m"+appHousehold+"b", map[string]any{"household_id": appHousehold, "name": "吴大山", "relation": "spouse"})
	save("assignments", "a-app", map[string]any{"officer": "wang", "household_id": appHousehold, "active": true})
	if rep, err := tw.Sync(ctx, nil); err != nil || rep.Rejected > 0 {
		t.Fatalf("township sync: %v, %+v", err, rep)
	}
}

// writeJPEGs writes two camera-like test photos and returns their paths.
func writeJPEGs(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("photo%d.jpg", i+1))
		if err := os.WriteFile(p, cameraJPEG(t, 640, 480, uint64(i+7)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// sign draws a two-stroke signature on the canvas with pointer events.
func sign(t *testing.T, tab *browsertest.Tab) {
	t.Helper()
	tab.Do(chromedp.ScrollIntoView(chromedp.CSS("#signature")))
	box := browsertest.Eval[map[string]float64](tab, `(() => { const r = document.getElementById("signature").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`)
	for s := range 2 {
		y := box["y"] + box["h"]*(0.35+0.3*float64(s))
		x0 := box["x"] + box["w"]*0.15
		steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1))}
		for i := 1; i <= 12; i++ {
			x := x0 + box["w"]*0.06*float64(i)
			steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y+float64((i%3)*6), chromedp.ButtonLeft))
		}
		steps = append(steps, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x0+box["w"]*0.72, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
		tab.Do(steps...)
	}
}

// choose taps one choice of a radio group (the input is visually hidden
// inside its big label).
func choose(tab *browsertest.Tab, name, value string) {
	sel := fmt.Sprintf(`input[name=%q][value=%q]`, name, value)
	tab.WaitJS(`!!document.querySelector(` + strconvQuote(sel) + `)`)
	browsertest.Eval[bool](tab, `(() => { const i = document.querySelector(`+strconvQuote(sel)+`); i.closest("label").click(); return i.checked; })()`)
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestFieldAppOfflineVisitThenSync is the officer's day: with the server
// stopped, open the overdue household, fill the generated visit form,
// take two photos, get a GPS fix, have the household sign; the app is
// killed mid-form and the draft is still there; save; after another
// restart the visit is on the tablet; with the server back, sync from the
// sync screen: the server holds the visit, its signature is valid and its
// evidence complete.
func TestFieldAppOfflineVisitThenSync(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	tdir := enrolledTablet(t, dir, srv.url, "wang")
	serverAddr := strings.TrimPrefix(srv.url, "http://")
	srv.stop()

	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Geolocation(app.base, 31.70512, 117.14031, 8)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	first := browsertest.Eval[string](tab, `document.querySelector("#households .hh").dataset.id + " " + document.querySelector("#households .hh").dataset.state`)
	if first != appHousehold+" overdue" {
		t.Fatalf("first household %q, want the overdue %s", first, appHousehold)
	}
	tab.Screenshot("list")
	requireReadableScreen(t, tab, "list")
	tab.Do(chromedp.Click(chromedp.CSS(`a.hh[data-id="` + appHousehold + `"]`)))
	tab.WaitJS(`document.body.dataset.ready === "household"`)
	if got := tab.Text(".idno"); got != "340***********1234" {
		t.Fatalf("masked id number %q", got)
	}
	tab.Screenshot("household")
	requireReadableScreen(t, tab, "household")
	tab.Do(chromedp.Click(chromedp.CSS("#new-visit")))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	for _, item := range []string{"food", "clothing", "education", "medical", "drinking_water"} {
		choose(tab, "checklist."+item, "ok")
	}
	choose(tab, "checklist.housing", "problem")
	tab.Do(chromedp.SetValue(chromedp.CSS(`select[name="answered_by_member_id"]`), "m"+appHousehold+"a"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="notes"]`), "房屋墙体有裂缝，已登记。"),
		chromedp.Click(chromedp.CSS("#gps-button")))
	tab.WaitJS(`document.getElementById("gps-text").textContent.includes("精度")`)
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#photo-input"), writeJPEGs(t, dir)))
	tab.WaitJS(`document.querySelectorAll("#photo-list figure").length === 2`)
	sign(t, tab)
	tab.Screenshot("visit-form")
	requireReadableScreen(t, tab, "visit-form")
	// Let the autosave land, then kill the app mid-form.
	tab.WaitJS(`fetch("/api/drafts/visit-` + appHousehold + `", {credentials: "same-origin"}).then(r => r.json()).then(d => (d.strokes || []).length === 2 && d.values["notes"] !== undefined && d.gps && d.photos.length === 2)`)
	app.stop()

	app = startFieldApp(t, tdir)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	tab.Do(chromedp.Navigate(app.base + "/#/visit/" + appHousehold))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	if got := browsertest.Eval[string](tab, `document.querySelector('input[name="checklist.housing"]:checked').value + " " + document.querySelector('textarea[name="notes"]').value + " " + document.querySelectorAll("#photo-list figure").length`); got != "problem 房屋墙体有裂缝，已登记。 2" {
		t.Fatalf("draft after the restart: %q", got)
	}
	tab.Do(chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved`)
	visitID := browsertest.Eval[string](tab, `document.body.dataset.saved`)
	app.stop()

	app = startFieldApp(t, tdir)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	if got := tab.Text(`a.hh[data-id="` + appHousehold + `"] [data-badge="pending"]`); !strings.Contains(got, "待同步") {
		t.Fatalf("pending badge %q", got)
	}
	tab.Screenshot("list-pending")
	requireReadableScreen(t, tab, "list-pending")
	tab.Do(chromedp.Navigate(app.base + "/#/h/" + appHousehold))
	tab.WaitJS(`document.body.dataset.ready === "household" && document.body.textContent.includes("受访：周桂芳")`)
	tab.Screenshot("household-visited")
	requireReadableScreen(t, tab, "household-visited")
	// The status screen counts what waits: the visit, its two photos and
	// the signature; two evidence copies, the signature file and the two
	// originals.
	before := statusShown(t, tab, app)
	if before["待上传记录"] != "4 条" || !strings.HasPrefix(before["待上传文件"], "5 个（") || !strings.HasSuffix(before["待上传文件"], "，其中 2 张原图等 Wi-Fi）") ||
		before["被拒绝"] != "0 条" || before["用户"] != "wang（帮扶干部）" {
		t.Errorf("status before the sync: %q", before)
	}
	tab.Screenshot("status")
	requireReadableScreen(t, tab, "status")

	srv = startServerAt(t, filepath.Join(dir, "server"), serverAddr)
	tab.Do(chromedp.Navigate(app.base + "/#/sync"))
	tab.WaitJS(`document.body.dataset.ready === "sync"`)
	// Before the first sync of this launch the screen says what waits, not
	// the zeros of a sync that did not run.
	if got := tab.Text("#records-text") + " | " + tab.Text("#files-text"); !strings.HasPrefix(got, "待上传 4 条记录 | 待上传 5 个文件（") || !strings.HasSuffix(got, "，其中 2 张原图等 Wi-Fi）") {
		t.Errorf("sync screen before the sync: %q", got)
	}
	tab.Do(chromedp.Click(chromedp.CSS("#sync-start")))
	tab.WaitJS(`document.body.dataset.sync === "done" || document.body.dataset.sync === "error"`)
	if phase := browsertest.Eval[string](tab, `document.body.dataset.sync + " " + document.getElementById("files-text").textContent`); !strings.HasPrefix(phase, "done") {
		t.Fatalf("sync: %s", phase)
	}
	tab.Screenshot("sync")
	requireReadableScreen(t, tab, "sync")
	// After it, only the originals wait for Wi-Fi, and the last sync moved.
	after := statusShown(t, tab, app)
	if after["待上传记录"] != "0 条" || after["已上传记录"] != "4 条" || !strings.HasPrefix(after["待上传文件"], "2 个（") || !strings.HasSuffix(after["待上传文件"], "，其中 2 张原图等 Wi-Fi）") ||
		after["上次同步"] == before["上次同步"] || after["上次同步"] == "从未" {
		t.Errorf("status after the sync: %q (before: %q)", after, before)
	}
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()

	wang := login(t, srv.url, "wang")
	var visit map[string]any
	if code := wang.do("GET", "/v1/records/visits/"+visitID, nil, &visit); code != 200 {
		t.Fatalf("visit on the server: %d", code)
	}
	b, _ := json.Marshal(visit)
	for _, want := range []string{`"answered_by_name":"周桂芳"`, `"housing":"problem"`, `"status":"complete"`, `"missing":[]`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("server visit lacks %s:\n%s", want, b)
		}
	}
	// The household's signature over the visit verifies on the server's
	// copies of both records, with the key the tablet enrolled.
	app.stop()
	c, err := client.Open(filepath.Join(tdir, "tablet.db"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sigs, err := c.Query(client.CollectionSignatures, func(v map[string]json.RawMessage) bool {
		return strings.Contains(string(v["signed_record_id"]), visitID)
	})
	if err != nil || len(sigs) != 1 {
		t.Fatalf("signatures of the visit on the tablet: %d, %v", len(sigs), err)
	}
	pub, err := c.DevicePublicKey()
	if err != nil {
		t.Fatal(err)
	}
	sig := wang.record("signatures", sigs[0].ID).Record.Fields
	if got := jsonStr(sig["signer_name"]); got != "周桂芳" {
		t.Fatalf("signer %q", got)
	}
	vf := wang.record("visits", visitID).Record.Fields
	if st := signature.Status(sig, signature.Content(vf, testSchemas(t).Policy("visits").Annotations), pub); st != signature.StatusValid {
		t.Fatalf("signature on the server: %s", st)
	}
}

// statusShown opens the status screen and reads its table, heading to
// value.
func statusShown(t *testing.T, tab *browsertest.Tab, app *fieldApp) map[string]string {
	t.Helper()
	tab.Do(chromedp.Navigate(app.base + "/#/status"))
	tab.WaitJS(`document.body.dataset.ready === "status"`)
	return browsertest.Eval[map[string]string](tab, `Object.fromEntries([...document.querySelectorAll("#status-table tr")].map((tr) => [tr.querySelector("th").textContent, tr.querySelector("td").textContent]))`)
}

func jsonStr(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
