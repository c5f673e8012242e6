package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/ruhu-dev/ruhu/chinatime"
	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Exit cases and ledger items of the procedure pages, loaded once into the
// demo county: a case through its village notice whose household meets the
// exit standards, a case past its appraisal whose household does not
// (no income survey, its member's insurance not recorded), and ledger
// items per test (each test moves its own).
const (
	exitMetHH     = "h34019900100103" // 桃园村
	exitUnmetHH   = "h34019900100203" // 李家村
	exitMetCase   = "exit-h34019900100103"
	exitUnmetCase = "exit-h34019900100203"
)

var procOnce sync.Once

func seedProcedures(t testing.TB, f *fixture) {
	t.Helper()
	var err error
	procOnce.Do(func() { err = loadProcedures(f.srv.Core(), time.Now()) })
	if err != nil {
		t.Fatalf("seed procedures: %v", err)
	}
}

func loadProcedures(app *core.Core, now time.Time) error {
	n := 0
	var ops []*syncengine.Op
	add := func(col, id, area string, fields map[string]any) {
		n++
		set := map[string]json.RawMessage{}
		for k, v := range fields {
			b, _ := json.Marshal(v)
			set[k] = b
		}
		ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("proc-%03d", n), RecordID: id, Collection: col, Area: area, Author: "seed",
			Device: "seed", HLC: syncengine.MakeHLC(now.UnixMilli()+int64(n), 0), Set: set, ReceivedAt: now.Add(time.Duration(n) * time.Second).UTC()})
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		return err
	}
	year := rules.IncomeYearKey(now, ps.For(demoArea, now.Year()).Income)
	add("members", "m"+exitMetHH, demoArea, map[string]any{"insured": true, "birth_date": "1962-04-01"})
	add("income_surveys", "inc-"+exitMetHH, demoArea, map[string]any{"household_id": exitMetHH, "income_year": year,
		"surveyed_at": now.Add(-72 * time.Hour).Format(time.RFC3339), "surveyor": "wang", "household_size": 2,
		"wage_migrant_work_yuan": 9600, "transfer_subsidy_yuan": 1200, "production_costs_yuan": 800})
	day := func(d int) string { return now.AddDate(0, 0, d-20).Format(time.RFC3339) }
	step := func(hh, caseID, id, kind string, d int, extra map[string]any) {
		fields := map[string]any{"case_id": caseID, "household_id": hh, "step": kind, "at": day(d), "actor": "zhao"}
		for k, v := range extra {
			fields[k] = v
		}
		add("exit_steps", id, hh[1:13], fields)
	}
	add("exit_cases", exitMetCase, demoArea, map[string]any{"household_id": exitMetHH, "exit_year": now.Year(), "opened_by": "township1", "opened_at": day(0)})
	step(exitMetHH, exitMetCase, "es-met-1", "appraisal", 1, map[string]any{"entitled": 42, "attended": 36, "signed": 31})
	step(exitMetHH, exitMetCase, "es-met-2", "verification", 2, map[string]any{"village_committee_signer": "钱村长", "work_team_signer": "孙书记"})
	step(exitMetHH, exitMetCase, "es-met-3", "acknowledgement", 3, map[string]any{"signature_id": "sig-" + exitMetHH})
	posted := now.AddDate(0, 0, -16)
	step(exitMetHH, exitMetCase, "es-met-4", "village_notice", 4, map[string]any{"notice_posted_at": posted.Format(time.RFC3339),
		"notice_ends_at": posted.AddDate(0, 0, 5).Format(time.RFC3339), "notice_photo_sha256": strings.Repeat("5e", 32),
		"notice_dated_as": fmt.Sprintf("%d年%d月%d日", posted.Year(), posted.Month(), posted.Day())})
	step(exitUnmetHH, exitUnmetCase, "es-unmet-1", "appraisal", 1, map[string]any{"entitled": 30, "attended": 28, "signed": 25})

	// Deadlines are China dates: the page counts overdue days by the date
	// in China, which runs ahead of UTC's from 16:00 UTC.
	today := now.In(chinatime.Zone())
	item := func(id, status string, fields map[string]any) {
		base := map[string]any{"source": "visit_overdue", "source_ref": "h34019900200104", "problem": "监测户一个月未走访（" + id + "）",
			"responsible_unit": "一乡人民政府", "responsible_person": "王帮扶", "deadline": today.AddDate(0, 0, 10).Format(time.DateOnly),
			"status": status, "opened_by": "county", "opened_at": day(1)}
		for k, v := range fields {
			base[k] = v
		}
		add("ledger_items", id, demoArea, base)
	}
	rectified := map[string]any{"measures": "已补走访并拍照", "evidence_sha256s": []string{strings.Repeat("cd", 32)},
		"rectified_by": "township1", "rectified_at": day(5)}
	for _, p := range []string{"http", "br"} {
		item("L-"+p+"-open", "open", map[string]any{"deadline": today.AddDate(0, 0, -3).Format(time.DateOnly)})
		item("L-"+p+"-rect", "rectified", rectified)
		verified := map[string]any{"verified_by": "county", "verified_at": day(6)}
		for k, v := range rectified {
			verified[k] = v
		}
		item("L-"+p+"-ver", "verified", verified)
	}
	_, err = app.Load(context.Background(), ops)
	return err
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func ledgerStatus(t *testing.T, f *fixture, id string) string {
	t.Helper()
	rec, _, err := f.srv.Core().Record(context.Background(), core.Operator(), "ledger_items", id, false)
	if err != nil || rec == nil {
		t.Fatalf("ledger item %s: %v", id, err)
	}
	var s string
	_ = json.Unmarshal(rec.Values()["status"], &s)
	return s
}

// TestExitsPageOverHTTP: the county sees both cases, the next step, the
// village notice with its dates and the unmet standards named; an officer
// may not open the page and a township user outside the area is refused.
func TestExitsPageOverHTTP(t *testing.T) {
	t.Parallel()
	f := demo(t)
	seedProcedures(t, f)
	c := httpClient(t)
	f.login(t, c, "county")
	code, _, body := get(t, c, f.url+"/exits?area="+county)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	met, unmet, ok := strings.Cut(body, `id="case-`+exitUnmetCase+`"`)
	if !ok || !strings.Contains(met, `id="case-`+exitMetCase+`"`) {
		t.Fatalf("cases missing or out of order:\n%s", body)
	}
	for _, want := range []string{"下一步：乡镇审核", "达到脱贫标准", "村内公示", "5天", "民主评议", "应参加42户，参会36户，签字31户", "钱村长", "5e5e5e5e5e5e"} {
		if !strings.Contains(met, want) {
			t.Errorf("met case lacks %q", want)
		}
	}
	for _, want := range []string{"未达脱贫标准", "缺少收入调查", "家庭成员未全部参加基本医保", "未记录参保情况", "下一步：村两委和驻村工作队核实"} {
		if !strings.Contains(unmet, want) {
			t.Errorf("unmet case lacks %q", want)
		}
	}
	if !strings.Contains(body, `id="exits-unmet"`) || !strings.Contains(body, "1 户已启动退出程序") {
		t.Error("no alert for the case past its appraisal with unmet standards")
	}
	if strings.Count(unmet, "家庭成员未全部参加基本医保") != 1 {
		t.Error("an unmet standard is named twice")
	}
	o := httpClient(t)
	f.login(t, o, "wang")
	if code, _, _ := get(t, o, f.url+"/exits?area="+township1); code != http.StatusForbidden {
		t.Errorf("officer: status %d", code)
	}
	tw := httpClient(t)
	f.login(t, tw, "township1")
	if code, _, _ := get(t, tw, f.url+"/exits?area=340199002"); code != http.StatusForbidden {
		t.Errorf("township outside its area: status %d", code)
	}
	if code, _, body := get(t, tw, f.url+"/exits"); code != http.StatusOK || !strings.Contains(body, exitMetCase) {
		t.Errorf("township's own area: status %d", code)
	}
	// The compliance report lists the case whose standards are unmet, on
	// the reports page as in the workbook.
	code, _, body = get(t, c, f.url+"/reports?area="+county+"&list=exit_standards_unmet")
	if code != http.StatusOK || !strings.Contains(body, exitUnmetCase) || strings.Contains(body, exitMetCase) || !strings.Contains(body, "已启动退出但未达脱贫标准") {
		t.Errorf("report list of exit cases (status %d):\n%s", code, body)
	}
}

// TestLedgerPageOverHTTP moves the ledger through the page's forms: the
// township user who rectified an item is refused its verification by the
// server (ledger_same_user) and the item stays rectified; the county
// verifies it and closes another; the township rectifies an overdue item
// with evidence. An auditor sees no form, and a forged post from one is
// refused. The workbook export follows the column order of [001].
func TestLedgerPageOverHTTP(t *testing.T) {
	t.Parallel()
	f := demo(t)
	seedProcedures(t, f)
	tw := httpClient(t)
	f.login(t, tw, "township1")
	code, _, body := get(t, tw, f.url+"/ledger?area="+township1)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	_, open, _ := strings.Cut(body, `id="item-L-http-open"`)
	open, _, _ = strings.Cut(open, "</section>")
	if !strings.Contains(open, "逾期 3 天") || !strings.Contains(open, `value="rectify"`) || !strings.Contains(open, "走访逾期 h34019900200104") {
		t.Errorf("open item: %s", open)
	}
	csrf := csrfOf(t, body)
	action := func(c *http.Client, id string, form url.Values) string {
		form.Set("csrf", csrf)
		form.Set("area", township1)
		code, loc := postForm(t, c, f.url+"/ledger/"+id+"/action", form)
		if code != http.StatusSeeOther {
			t.Fatalf("%s: status %d", id, code)
		}
		return loc
	}
	loc := action(tw, "L-http-rect", url.Values{"action": {"verify"}})
	if !strings.Contains(loc, "code=ledger_same_user") || ledgerStatus(t, f, "L-http-rect") != "rectified" {
		t.Fatalf("rectifier verifying: %s, status %s", loc, ledgerStatus(t, f, "L-http-rect"))
	}
	_, _, shown := get(t, tw, f.url+loc)
	if !strings.Contains(shown, `id="ledger-error"`) || !strings.Contains(shown, "整改人不能核验自己的整改") {
		t.Errorf("refusal not shown: %s", shown)
	}
	if loc := action(tw, "L-http-open", url.Values{"action": {"rectify"}, "measures": {"已补走访"}, "evidence": {strings.Repeat("ab", 32) + "\nvis-1"}}); !strings.Contains(loc, "done=L-http-open") {
		t.Errorf("rectify: %s", loc)
	}
	if got := ledgerStatus(t, f, "L-http-open"); got != "rectified" {
		t.Errorf("rectified item is %s", got)
	}
	// A verified item cannot be rectified again: the rules' code comes back.
	if loc := action(tw, "L-http-ver", url.Values{"action": {"rectify"}}); !strings.Contains(loc, "code=ledger_bad_transition") {
		t.Errorf("rectify a verified item: %s", loc)
	}
	cy := httpClient(t)
	f.login(t, cy, "county")
	_, _, body = get(t, cy, f.url+"/ledger?area="+township1)
	csrf = csrfOf(t, body)
	if loc := action(cy, "L-http-rect", url.Values{"action": {"verify"}, "note": {"已核实"}}); !strings.Contains(loc, "done=L-http-rect") {
		t.Errorf("county verify: %s", loc)
	}
	if loc := action(cy, "L-http-ver", url.Values{"action": {"close"}}); !strings.Contains(loc, "done=L-http-ver") {
		t.Errorf("county close: %s", loc)
	}
	if a, b := ledgerStatus(t, f, "L-http-rect"), ledgerStatus(t, f, "L-http-ver"); a != "verified" || b != "closed" {
		t.Errorf("statuses %s %s", a, b)
	}
	au := httpClient(t)
	f.login(t, au, "auditor")
	_, _, body = get(t, au, f.url+"/ledger?area="+county)
	if strings.Contains(body, `/action"`) || !strings.Contains(body, "L-http-open") {
		t.Errorf("auditor's ledger shows forms or misses items")
	}
	csrf = csrfOf(t, body)
	// Auditors stay read-only: the core refuses the write before the rules.
	if loc := action(au, "L-br-ver", url.Values{"action": {"close"}}); !strings.Contains(loc, "error="+url.QueryEscape("您的角色或管辖范围不允许修改问题台账。")) || ledgerStatus(t, f, "L-br-ver") != "verified" {
		t.Errorf("auditor closing: %s", loc)
	}
	// The export.
	resp, err := cy.Get(f.url + "/ledger/download?area=" + township1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	wb, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatalf("ledger workbook: %v", err)
	}
	defer wb.Close()
	rows, err := wb.GetRows("问题台账")
	if err != nil || len(rows) < 7 {
		t.Fatalf("ledger sheet: %d rows, %v", len(rows), err)
	}
	if !slices.Equal(rows[0][:6], []string{"序号", "具体问题", "整改措施", "责任单位", "整改期限", "状态"}) {
		t.Errorf("header %v", rows[0])
	}
}

// TestProcedurePagesInBrowser: the county reads the exit cases and the
// ledger on a desktop; the township user who rectified an item tries to
// verify it and reads the server's refusal; both pages fit a phone.
func TestProcedurePagesInBrowser(t *testing.T) {
	t.Parallel()
	f := demo(t)
	seedProcedures(t, f)
	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "county")
	tab.Do(chromedp.Navigate(f.url + "/exits?area=" + county))
	if h := tab.Text("h1"); !strings.Contains(h, "脱贫退出") {
		t.Fatalf("heading %q", h)
	}
	if txt := tab.Text("#case-" + exitUnmetCase); !strings.Contains(txt, "家庭成员未全部参加基本医保") {
		t.Errorf("unmet case: %q", txt)
	}
	tab.Screenshot("exits")
	saveReadmeShot(t, tab, "console-exits.png")
	tab.Do(chromedp.Navigate(f.url + "/ledger?area=" + township1))
	if txt := tab.Text("#item-L-br-open"); !strings.Contains(txt, "逾期") {
		t.Errorf("overdue item: %q", txt)
	}
	tab.Screenshot("ledger")
	saveReadmeShot(t, tab, "console-ledger.png")

	tw := browsers.Tab(t, browsertest.Phone)
	browserLogin(tw, f, "township1")
	tw.Do(chromedp.Navigate(f.url + "/ledger"))
	tw.Do(
		chromedp.SendKeys(chromedp.CSS(`#item-L-br-rect input[name="note"]`), "核实无误"),
		chromedp.Click(chromedp.CSS(`#item-L-br-rect button[value="verify"]`)),
		chromedp.WaitVisible(chromedp.CSS("#ledger-error")),
	)
	if txt := tw.Text("#ledger-error"); !strings.Contains(txt, "整改人不能核验自己的整改") {
		t.Errorf("refusal shown as %q", txt)
	}
	if got := ledgerStatus(t, f, "L-br-rect"); got != "rectified" {
		t.Errorf("item is %s after its rectifier's verification", got)
	}
	tw.Screenshot("ledger-refused")
	tw.Do(
		chromedp.SendKeys(chromedp.CSS(`#item-L-br-open textarea[name="measures"]`), "已补走访并拍照"),
		chromedp.SendKeys(chromedp.CSS(`#item-L-br-open textarea[name="evidence"]`), strings.Repeat("ef", 32)),
		chromedp.Click(chromedp.CSS(`#item-L-br-open button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#ledger-done")),
	)
	if got := ledgerStatus(t, f, "L-br-open"); got != "rectified" {
		t.Errorf("item is %s after rectification", got)
	}
	for _, p := range []string{"/ledger", "/exits"} {
		tw.Do(chromedp.Navigate(f.url + p))
		if w := browsertest.Eval[int](tw, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s is %d px wide on a 390 px phone", p, w)
		}
	}
	tw.Screenshot("exits-phone")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
	tw.RequireNoProblems()
}
