package console_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// auditRows are the sequence numbers of the audit page's rows, in order.
var auditRow = regexp.MustCompile(`<th scope="row" class="mono">(\d+)</th>`)

func auditSeqs(t testing.TB, body string) []uint64 {
	t.Helper()
	var out []uint64
	for _, m := range auditRow.FindAllStringSubmatch(body, -1) {
		n, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestAuditPageOverHTTP: report downloads from the console are audited
// (via console, the file's sha256); the audit page shows them to the
// auditor newest first, 50 a page with a link to older entries, beside a
// verified chain; township users and areas beyond the scope are refused
// by the server, and the menu offers the page only to those who may read
// it.
func TestAuditPageOverHTTP(t *testing.T) {
	t.Parallel()
	f := demo(t)
	county := httpClient(t)
	f.login(t, county, "county")
	const village = "340199001002"
	for i := range 51 {
		status, _, body := get(t, county, f.url+"/reports/download?format=csv&list=summary&area="+village+"&period="+f.month.Label)
		if status != 200 || body == "" {
			t.Fatalf("download %d: %d", i, status)
		}
	}
	aud := httpClient(t)
	f.login(t, aud, "auditor")
	status, _, body := get(t, aud, f.url+"/audit?area="+village)
	if status != 200 {
		t.Fatalf("audit page: %d %s", status, body)
	}
	seqs := auditSeqs(t, body)
	if len(seqs) != 50 {
		t.Fatalf("first page has %d rows, want 50", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] >= seqs[i-1] {
			t.Fatalf("rows not newest first: %v", seqs)
		}
	}
	for _, want := range []string{`data-state="verified"`, "链完整", "导出", "compliance_report", "console", `href="/audit"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	older := `/audit?area=` + village + `&amp;before=` + strconv.FormatUint(seqs[49], 10)
	if !strings.Contains(body, older) {
		t.Fatalf("no link to older entries (%s)", older)
	}
	status, _, body = get(t, aud, f.url+html.UnescapeString(older))
	next := auditSeqs(t, body)
	if status != 200 || len(next) == 0 || next[0] >= seqs[49] || !strings.Contains(body, "最新记录") {
		t.Fatalf("older page: %d, rows %v", status, next)
	}

	town := httpClient(t)
	f.login(t, town, "township1")
	if status, _, body := get(t, town, f.url+"/audit?area="+township1); status != 403 {
		t.Errorf("township user: %d", status)
	} else if strings.Contains(body, `href="/audit"`) {
		t.Errorf("the menu offers the audit page to a township user")
	}
	if status, _, _ := get(t, aud, f.url+"/audit?area=3401"); status != 403 {
		t.Errorf("auditor beyond scope: %d", status)
	}
	if status, _, _ := get(t, aud, f.url+"/audit?area=34x"); status != 400 {
		t.Errorf("bad area: %d", status)
	}
}

// TestAuditPageInBrowser: the auditor opens the audit trail from the menu
// in Chromium; the chain is shown verified and the entries carry their
// kinds in Chinese, with no inline script or other origin needed.
func TestAuditPageInBrowser(t *testing.T) {
	t.Parallel()
	f := demo(t)
	county := httpClient(t)
	f.login(t, county, "county")
	// The demo village: TestAuditPageOverHTTP fills another one.
	if status, _, _ := get(t, county, f.url+"/reports/download?format=xlsx&area="+demoArea+"&period="+f.month.Label); status != 200 {
		t.Fatalf("download: %d", status)
	}
	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "auditor")
	tab.Do(
		chromedp.Click(chromedp.CSS(`nav.menu a[href="/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#chain")),
	)
	tab.Do(
		chromedp.SetValue(chromedp.CSS(`form.filters input[name=area]`), demoArea),
		chromedp.Submit(chromedp.CSS(`form.filters`)),
		chromedp.WaitVisible(chromedp.CSS(`#audit`)),
	)
	if h := tab.Text("h1"); !strings.Contains(h, demoArea) {
		t.Fatalf("heading after choosing the village: %q", h)
	}
	if st := browsertest.Eval[string](tab, `document.querySelector("#chain").dataset.state`); st != "verified" {
		t.Errorf("chain state %q, want verified (%s)", st, tab.Text("#chain"))
	}
	if rows := browsertest.Eval[int](tab, `document.querySelectorAll("#audit tbody tr").length`); rows == 0 {
		t.Fatal("no audit rows")
	}
	if txt := tab.Text("#audit"); !strings.Contains(txt, "导出") || !strings.Contains(txt, "xlsx") || !strings.Contains(txt, "county") {
		t.Errorf("audit table lacks the county's workbook export: %q", txt[:min(len(txt), 400)])
	}
	// Every fact is named in Chinese: an auditor reads 已确认, not acked.
	if raw := browsertest.Eval[[]string](tab, `[...document.querySelectorAll("#audit td.detail .kv > span:first-child")].map(s => s.textContent).filter(k => /^[a-z_0-9]+$/.test(k))`); len(raw) != 0 {
		t.Errorf("audit facts shown by their English keys: %v", raw)
	}
	tab.Screenshot("audit")
	saveReadmeShot(t, tab, "console-audit.png")
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}

// TestLedgerDownloadIsAudited: the rectification ledger's workbook
// leaves the console only with an export entry holding its sha256.
func TestLedgerDownloadIsAudited(t *testing.T) {
	t.Parallel()
	f := demo(t)
	county := httpClient(t)
	f.login(t, county, "county")
	const village = "340199002001"
	status, _, body := get(t, county, f.url+"/ledger/download?area="+village)
	if status != 200 || !strings.HasPrefix(body, "PK") {
		t.Fatalf("ledger download: %d", status)
	}
	req, _ := http.NewRequest("GET", f.url+"/v1/audit?area="+village, nil)
	req.Header.Set("Authorization", "Bearer "+f.apiToken(t, "auditor"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var trail struct {
		Entries []struct {
			Kind, Actor, Area string
			Detail            map[string]string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&trail); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	for _, e := range trail.Entries {
		if e.Kind == "export" && e.Detail["what"] == "ledger" {
			if e.Actor != "county" || e.Area != village || e.Detail["sha256"] != hex.EncodeToString(sum[:]) || e.Detail["via"] != "console" {
				t.Errorf("ledger export entry %+v", e)
			}
			return
		}
	}
	t.Fatalf("no ledger export entry in %+v", trail.Entries)
}
