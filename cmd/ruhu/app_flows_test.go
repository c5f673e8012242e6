package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
)

// taoyuanCenter is the seeded centre of 桃园村, whose geofence is 800 m.
var taoyuanCenter = [2]float64{31.7051, 117.1402}

// enrolledTablet logs user in from a fresh tablet folder, enrols it and
// syncs, through the tablet CLI.
func enrolledTablet(t *testing.T, dir, serverURL, user string) string {
	t.Helper()
	tdir := filepath.Join(dir, "tablet-"+user)
	_, must := tabletCommands(t, tdir)
	must("login", "--server", serverURL, "--user", user)
	must("enroll", "--name", "平板-"+user)
	must("sync")
	return tdir
}

// syncFromScreen runs a sync from the sync screen and waits for its end.
func syncFromScreen(t *testing.T, tab *browsertest.Tab, app *fieldApp) {
	t.Helper()
	tab.Do(chromedp.Navigate(app.base + "/#/sync"))
	tab.WaitJS(`document.body.dataset.ready === "sync"`)
	tab.Do(chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.sync`), chromedp.Click(chromedp.CSS("#sync-start")))
	tab.WaitJS(`document.body.dataset.sync === "done" || document.body.dataset.sync === "error"`)
	if phase := browsertest.Eval[string](tab, `document.body.dataset.sync + " " + document.getElementById("sync-state").textContent`); !strings.HasPrefix(phase, "done") {
		t.Fatalf("sync: %s", phase)
	}
}

// residencyShown reads the counted days and the not-counted note of the
// check-in screen.
func residencyShown(tab *browsertest.Tab) (days string, detail string) {
	v := browsertest.Eval[[]string](tab, `[document.getElementById("counted-days").textContent, document.getElementById("residency-detail").textContent]`)
	return v[0], v[1]
}

// TestFieldAppCheckinDaysMatchTheServerReport: 赵队员 checks in three
// times from the check-in screen with the browser's geolocation emulated —
// inside 桃园村 with a good fix, inside with a fix too coarse to count, and
// 5.5 km away — and the screen counts one day with two check-ins not
// counted; after a sync from the sync screen, the server's compliance
// report (judged at the month's end) counts the same for this month.
func TestFieldAppCheckinDaysMatchTheServerReport(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	tdir := enrolledTablet(t, dir, srv.url, "zhao")
	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	// A work-team member's first screen is the check-in.
	tab.WaitJS(`document.body.dataset.ready === "checkin"`)
	if days, _ := residencyShown(tab); days != "0" {
		t.Fatalf("counted days before any check-in this month: %s", days)
	}
	fixes := []struct {
		name               string
		lat, lon, accuracy float64
	}{
		{"inside", taoyuanCenter[0] + 0.002, taoyuanCenter[1] + 0.001, 15},
		{"inside, coarse fix", taoyuanCenter[0] - 0.001, taoyuanCenter[1], 450},
		{"outside the geofence", taoyuanCenter[0] + 0.05, taoyuanCenter[1], 12},
	}
	for i, f := range fixes {
		tab.Geolocation(app.base, f.lat, f.lon, f.accuracy)
		tab.Do(chromedp.Click(chromedp.CSS("#checkin-button")))
		tab.WaitJS(fmt.Sprintf(`!!document.getElementById("checked-in") && [...document.querySelectorAll("#view tr")].filter((r) => r.textContent.includes("±")).length === %d`, i+1))
		t.Logf("after the check-in %s: %v", f.name, browsertest.Eval[string](tab, `document.getElementById("residency-detail").textContent`))
	}
	days, detail := residencyShown(tab)
	if days != "1" || !strings.Contains(detail, "签到 1 天") || !strings.Contains(detail, "不计入的签到 2 次") {
		t.Fatalf("check-in screen: %s days, %q; want 1 day and 2 not counted", days, detail)
	}
	if month := browsertest.Eval[string](tab, `document.querySelector("#view .card .muted").textContent`); !regexp.MustCompile(`^桃园村 · \d{4}年\d{1,2}月$`).MatchString(month) {
		t.Errorf("check-in month %q, want 桃园村 · 2026年12月", month)
	}
	// A refused location permission is explained in Chinese, not with the
	// browser's "User denied Geolocation".
	tab.Do(chromedp.Evaluate[chromedp.Void](`(() => { const real = navigator.geolocation.getCurrentPosition.bind(navigator.geolocation);
		navigator.geolocation.getCurrentPosition = (ok, fail) => { navigator.geolocation.getCurrentPosition = real; fail({ code: 1, message: "User denied Geolocation" }); };
		document.getElementById("checkin-button").click(); })()`))
	tab.WaitJS(`!!document.querySelector("#checkin-msg .error")`)
	if got := tab.Text("#checkin-msg .error"); got != "定位失败：未允许本应用使用位置，请在设置中打开定位权限" {
		t.Errorf("check-in without the location permission: %q", got)
	}
	// A duty-day request: the kind is chosen, not preset (the form offers
	// 公务出差 first and 其他 last), and the request shows as 待批准 and
	// 待同步 (until the sync below: then no pending badge is left).
	if got := browsertest.Eval[string](tab, `[...document.querySelectorAll("#duty-kind option")].map((o) => o.textContent).join(",")`); got != "请选择,公务出差,会议,培训,其他" {
		t.Errorf("duty kinds offered: %q", got)
	}
	today := time.Now().In(chinaTime).Format("2006-01-02")
	tab.Do(chromedp.SetValue(chromedp.CSS("#duty-date"), today), chromedp.SetValue(chromedp.CSS("#duty-kind"), "training"),
		chromedp.SendKeys(chromedp.CSS("#duty-note"), "县里培训"), chromedp.Click(chromedp.CSS("#duty-submit")))
	tab.WaitJS(`[...document.querySelectorAll("#view tr")].some((r) => r.textContent === "` + today + `培训待批准待同步")`)
	tab.Screenshot("checkin")
	requireReadableScreen(t, tab, "checkin")

	syncFromScreen(t, tab, app)
	tab.Do(chromedp.Navigate(app.base + "/#/checkin"))
	tab.WaitJS(`document.body.dataset.ready === "checkin"`)
	if got := browsertest.Eval[int](tab, `document.querySelectorAll("#view .badge.pending").length`); got != 0 {
		t.Fatalf("%d check-ins still pending after the sync", got)
	}
	days, detail = residencyShown(tab)
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()

	// The server's report judges a month once it has ended: run the
	// report function on the server's store as of this month's end.
	srv.stop()
	month := rules.PeriodOf(rules.UnitMonth, time.Now())
	store, err := openExistingStore(filepath.Join(dir, "server"))
	if err != nil {
		t.Fatal(err)
	}
	policies, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := server.ComplianceReport(store.Core(), policies, "340199001001", month, month.End)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	var zhao *rules.ResidencyFinding
	for i, f := range rep.Lists.ResidencyShort {
		if f.Member == "zhao" {
			zhao = &rep.Lists.ResidencyShort[i]
		}
	}
	if zhao == nil {
		t.Fatalf("zhao is not in the report's residency list for %s: %+v", month.Label, rep.Lists.ResidencyShort)
	}
	if want := fmt.Sprintf("签到 %d 天", zhao.CheckinDays); days != fmt.Sprint(zhao.Days) || !strings.Contains(detail, want) ||
		!strings.Contains(detail, fmt.Sprintf("不计入的签到 %d 次", zhao.NotCounted)) {
		t.Fatalf("the screen shows %s days (%q), the server's report counts %+v", days, detail, *zhao)
	}
	if zhao.Days != 1 || zhao.NotCounted != 2 {
		t.Fatalf("server report %+v, want 1 day and 2 not counted", *zhao)
	}
}

// TestFieldAppRejectedOpIsFixedAndResynced: wang's tablet holds a visit an
// older form wrote without the drinking-water item, which the server's
// schema requires, and a good visit to another household. A sync from the
// sync screen sends both: the good one lands, the other shows in the
// rejected list with the server's reason; fixing it from there (picking
// the missing item) and saving makes the next sync land it too, and the
// rejected list empties.
func TestFieldAppRejectedOpIsFixedAndResynced(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	tdir := enrolledTablet(t, dir, srv.url, "wang")

	// Write the two visits as an older app would: no schema check here.
	reg := testSchemas(t)
	c, err := client.Open(filepath.Join(tdir, "tablet.db"), client.Options{Policy: mergePolicy(reg),
		PIIFields: func(col string) []string { return reg.Policy(col).PII }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad := map[string]any{"household_id": appHousehold, "officer": "wang", "visited_at": time.Now().In(chinaTime).Format(time.RFC3339),
		"checklist":        map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "problem"},
		"answered_by_name": "周桂芳", "notes": "屋顶漏雨。"}
	badID, goodID := c.NewID(), c.NewID()
	if _, err := c.Save(ctx, client.CollectionVisits, badID, "340199001001", rawFields(t, bad)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Save(ctx, client.CollectionVisits, goodID, "340199001001", visitFields(t, "h34019900100101", "wang", 1)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	syncFromScreen(t, tab, app)
	tab.WaitJS(`document.querySelectorAll("#rejected [data-op]").length === 1`)
	if got := tab.Text("#files-text"); got != "没有要上传的文件" {
		t.Errorf("files line of a sync with no files: %q", got)
	}
	// The server says "visits.checklist: missing drinking_water"; the
	// officer reads it in Chinese with the form's titles, no key, no code.
	reason := tab.Text("#rejected [data-op] .reason")
	if reason != "两不愁三保障及饮水安全：缺少「饮水安全有保障」" {
		t.Fatalf("rejected reason %q: want the server's reason in the form's words", reason)
	}
	if got := tab.Text("#rejected [data-op] .muted"); got != "请修改：两不愁三保障及饮水安全" {
		t.Errorf("rejected field %q", got)
	}
	// The sync did not all go: the phase line says so, not 同步完成.
	if got := tab.Text("#sync-phase"); strings.Contains(got, "同步完成") || !strings.Contains(got, "1 条记录被服务器拒绝") {
		t.Errorf("sync phase after a refusal: %q", got)
	}
	tab.Screenshot("rejected")
	requireReadableScreen(t, tab, "rejected")
	wang := login(t, srv.url, "wang")
	var v map[string]any
	if code := wang.do("GET", "/v1/records/visits/"+goodID, nil, &v); code != 200 {
		t.Fatalf("the good visit was held up by the refused one: %d", code)
	}
	if code := wang.do("GET", "/v1/records/visits/"+badID, nil, &v); code != 404 {
		t.Fatalf("the refused visit on the server: %d", code)
	}
	// The list's badge points at the household too.
	tab.Do(chromedp.Navigate(app.base + "/#/"))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	if got := tab.Text(`a.hh[data-id="` + appHousehold + `"] [data-badge="rejected"]`); !strings.Contains(got, "被拒 1") {
		t.Fatalf("rejected badge %q", got)
	}

	tab.Do(chromedp.Navigate(app.base + "/#/sync"))
	tab.WaitJS(`document.body.dataset.ready === "sync" && !!document.querySelector("#rejected button.fix")`)
	tab.Do(chromedp.Click(chromedp.CSS("#rejected button.fix")))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	if got := browsertest.Eval[string](tab, `document.querySelector(".warnbox").textContent + " | " + document.querySelector('input[name="checklist.housing"]:checked').value + " | " + document.querySelector('textarea[name="notes"]').value`); !strings.Contains(got, "服务器拒绝的原因：两不愁三保障及饮水安全：缺少「饮水安全有保障」") || !strings.HasSuffix(got, "problem | 屋顶漏雨。") {
		t.Fatalf("fix form: %q; want the reason and the refused values", got)
	}
	choose(tab, "checklist.drinking_water", "ok")
	tab.Do(chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved`)
	fixedID := browsertest.Eval[string](tab, `document.body.dataset.saved`)

	syncFromScreen(t, tab, app)
	tab.WaitJS(`!!document.getElementById("no-rejected")`)
	var fixed serverRecord
	if code := wang.do("GET", "/v1/records/visits/"+fixedID, nil, &fixed); code != 200 {
		t.Fatalf("the fixed visit on the server: %d", code)
	}
	if got := string(fixed.Record.Fields["checklist"]); !strings.Contains(got, `"drinking_water":"ok"`) || !strings.Contains(got, `"housing":"problem"`) {
		t.Fatalf("fixed visit's checklist on the server: %s", got)
	}
	// A sync that broke off in the files, after its records went, does not
	// say the sync failed: the records are on the server. (The app's answer
	// is stood in for: a cut between the two phases cannot be timed here.)
	for _, tc := range []struct{ recordsDone, want string }{
		{"true", "记录已同步；照片和签字上传中断：网络中断，请稍后重试，下次同步时继续"},
		{"false", "同步失败：网络中断，请稍后重试"},
	} {
		tab.Do(chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.__realFetch || (window.__realFetch = window.fetch);
			const broke = {running: false, phase: "error", records_done: ` + tc.recordsDone + `, error: "网络中断，请稍后重试", pushed: 2, to_push: 2, pulled: 0, rejected: 0,
				file_bytes: 0, file_total: 9000, files_done: 0, files: 1, deferred: 0, failed_files: 0};
			window.fetch = (url, opts) => String(url).endsWith("/api/sync") && (!opts || opts.method === "GET")
				? Promise.resolve(new Response(JSON.stringify(broke), {status: 200, headers: {"Content-Type": "application/json"}})) : real(url, opts);
			delete document.body.dataset.ready;
			if (location.hash !== "#/sync") location.hash = "#/sync"; else window.dispatchEvent(new HashChangeEvent("hashchange"));
		})()`))
		tab.WaitJS(`document.body.dataset.ready === "sync"`)
		if got := tab.Text("#sync-phase"); got != tc.want {
			t.Errorf("records_done=%s: sync line %q, want %q", tc.recordsDone, got, tc.want)
		}
	}
	tab.Do(chromedp.Evaluate[chromedp.Void](`window.fetch = window.__realFetch`))
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// writeExtraFieldSchemas lays the shipped schemas into dir with one more
// visits field, 在家成年人数 (adults_at_home, an integer).
func writeExtraFieldSchemas(t *testing.T, dir string) {
	t.Helper()
	err := fs.WalkDir(schemas.Shipped(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schemas.Shipped(), p)
		if err != nil {
			return err
		}
		if p == "json/visits.v1.json" {
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				return err
			}
			doc["properties"].(map[string]any)["adults_at_home"] = map[string]any{"type": "integer", "minimum": 0, "title": "在家成年人数",
				"description": "走访时在家的成年人"}
			if b, err = json.Marshal(doc); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, path.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFieldAppExtraSchemaFieldAndPINLock: with a schema folder whose
// visits schema has one more field, the browser's visit form shows it
// (named by its path, titled from the schema) and the saved visit holds
// the typed value. Then, with a PIN set on the status screen, the lock
// screen covers the app once the idle time has passed, a wrong PIN is
// refused and the right one opens it again.
func TestFieldAppExtraSchemaFieldAndPINLock(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	tdir := enrolledTablet(t, dir, srv.url, "wang")
	srv.stop()
	schemaDir := filepath.Join(dir, "schemas")
	writeExtraFieldSchemas(t, schemaDir)
	const idle = 2 * time.Second
	app := startFieldAppWith(t, tdir, []string{"--schemas", schemaDir}, []string{"--idle-lock", idle.String()})
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	tab.Do(chromedp.Navigate(app.base + "/#/visit/" + appHousehold))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	if got := browsertest.Eval[string](tab, `(() => { const i = document.querySelector('input[name="adults_at_home"]'); return i ? i.type + " " + document.querySelector('label[for="' + i.id + '"]').textContent : "none"; })()`); got != "number 在家成年人数" {
		t.Fatalf("extra field input: %q", got)
	}
	for _, item := range []string{"food", "clothing", "education", "medical", "housing", "drinking_water"} {
		choose(tab, "checklist."+item, "ok")
	}
	tab.Do(chromedp.SetValue(chromedp.CSS(`select[name="answered_by_member_id"]`), "m"+appHousehold+"b"),
		chromedp.SendKeys(chromedp.CSS(`input[name="adults_at_home"]`), "3"))
	tab.Screenshot("extra-field")
	requireReadableScreen(t, tab, "extra-field")
	tab.Do(chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved`)
	visitID := browsertest.Eval[string](tab, `document.body.dataset.saved`)
	// After saving, the app goes back to the household.
	tab.WaitJS(`document.body.dataset.ready === "household"`)

	// PIN set on the status screen; nothing locks while there is none.
	tab.Do(chromedp.Navigate(app.base + "/#/status"))
	tab.WaitJS(`document.body.dataset.ready === "status"`)
	tab.Screenshot("status")
	requireReadableScreen(t, tab, "status")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#pin-new"), "2468"), chromedp.Click(chromedp.CSS(`#pin-form button[type="submit"]`)))
	tab.WaitJS(`document.getElementById("pin-msg").textContent.includes("PIN 已修改")`)
	if browsertest.Eval[bool](tab, `!document.getElementById("lock").hidden`) {
		t.Fatal("locked right after setting the PIN")
	}
	time.Sleep(idle + 300*time.Millisecond)
	tab.Do(chromedp.Navigate(app.base + "/#/h/" + appHousehold))
	tab.WaitJS(`!document.getElementById("lock").hidden`)
	if browsertest.Eval[bool](tab, `document.body.dataset.ready === "household"`) {
		t.Fatal("the household screen rendered behind the lock")
	}
	// Nor does the screen shown before it stay in the page behind the overlay.
	if got := browsertest.Eval[string](tab, `document.getElementById("view").innerText`); got != "" {
		t.Errorf("behind the lock: %q", got)
	}
	tab.Screenshot("locked")
	requireReadableScreen(t, tab, "locked")
	tab.Do(chromedp.SendKeys(chromedp.CSS("#lock-pin"), "1111"), chromedp.Click(chromedp.CSS(`#lock-form button[type="submit"]`)))
	tab.WaitJS(`!document.getElementById("lock-error").hidden && !document.getElementById("lock").hidden`)
	tab.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("lock-pin").value = ""`), chromedp.SendKeys(chromedp.CSS("#lock-pin"), "2468"), chromedp.Click(chromedp.CSS(`#lock-form button[type="submit"]`)))
	tab.WaitJS(`document.getElementById("lock").hidden && document.body.dataset.ready === "household"`)
	// A 423 was expected once; nothing else went wrong.
	for _, p := range tab.Problems() {
		if !strings.Contains(p, "423") {
			t.Errorf("page problem: %s", p)
		}
	}
	tab.RequireLoopbackOnly()
	app.stop()

	c, err := client.Open(filepath.Join(tdir, "tablet.db"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The PIN set above seals the personal fields of the file.
	if _, err := c.Get(client.CollectionVisits, visitID); !errors.Is(err, client.ErrLocked) {
		t.Fatalf("visit read without the PIN: %v", err)
	}
	if err := c.Unlock("2468"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Get(client.CollectionVisits, visitID)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(v.Values["adults_at_home"]); got != "3" {
		t.Fatalf("saved adults_at_home = %s, want the integer 3", got)
	}
	if got := v.String("answered_by_name"); got != "吴大山" {
		t.Fatalf("answered by %q", got)
	}
}
