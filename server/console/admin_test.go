package console_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/importer"
)

// The admin adds a user through the form (who can then log in) and
// revokes a tablet (the core then holds it revoked); other roles get the
// refusal page for /admin, whatever the menu shows.
func TestAdminAddsUserAndRevokesDevice(t *testing.T) {
	t.Parallel()
	f := demo(t)
	ctx := context.Background()
	devs, err := f.srv.Core().Devices(ctx, core.Operator())
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, d := range devs {
		if d.Username == "li" && d.RevokedAt == nil {
			victim = d.ID
		}
	}
	if victim == "" {
		t.Fatal("the fixture has no enrolled device of li")
	}

	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "admin")
	tab.Do(
		chromedp.Click(chromedp.CSS(`nav.menu a[href="/admin"]`)),
		chromedp.WaitVisible(chromedp.CSS("#add-user")),
		chromedp.SendKeys(chromedp.CSS("#new_username"), "qian"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "钱帮扶"),
		chromedp.SetValue(chromedp.CSS("#role"), "officer"),
		chromedp.SendKeys(chromedp.CSS("#scopes"), "340199001"),
		chromedp.SendKeys(chromedp.CSS("#new_password"), "qian-pass-2026"),
	)
	tab.Screenshot("add-user")
	tab.Do(
		chromedp.Click(chromedp.CSS("#add-user button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#admin-notice")),
	)
	if n := tab.Text("#admin-notice"); n != "已新增用户 qian。" {
		t.Errorf("add-user notice = %q", n)
	}
	if row := tab.Text(`#users tr[data-user="qian"]`); !strings.Contains(row, "钱帮扶") || !strings.Contains(row, "340199001") {
		t.Errorf("new user row = %q", row)
	}
	if _, err := f.srv.Core().Login(ctx, "qian", "qian-pass-2026"); err != nil {
		t.Errorf("the added user cannot log in: %v", err)
	}

	// The notice of the added user is still on the page when the revoke
	// form is submitted, so wait for the row's own badge, which only the
	// page answering the revocation has.
	tab.Do(
		chromedp.Click(chromedp.CSS("#d-"+victim+" button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#d-"+victim+" .badge.bad")),
	)
	if st := tab.Text("#d-" + victim); !strings.Contains(st, "已吊销") {
		t.Errorf("revoked device row = %q", st)
	}
	if n := tab.Text("#admin-notice"); !strings.HasPrefix(n, "已吊销设备 "+victim) {
		t.Errorf("revoke notice = %q", n)
	}
	tab.Screenshot("revoked")
	devs, err = f.srv.Core().Devices(ctx, core.Operator())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == victim && d.RevokedAt == nil {
			t.Errorf("device %s is not revoked in the core", victim)
		}
	}
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()

	// A county user is refused the page and the form, menu or not.
	c := httpClient(t)
	f.login(t, c, "county")
	if code, _, body := get(t, c, f.url+"/admin"); code != http.StatusForbidden || !strings.Contains(body, "无权访问") {
		t.Errorf("county GET /admin: %d", code)
	}
}

// A township clerk uploads a register: good rows are imported, a bad
// identity number and a village outside the township come back as a
// table of row problems, and the good households then have their files.
func TestImportRegisterShowsRowProblems(t *testing.T) {
	t.Parallel()
	f := demo(t)
	rows := importer.ExampleRows("340199001002", 4)
	for i := range rows {
		rows[i].HouseholdID = "h3401990010029" + string(rune('1'+i))
	}
	rows[1].IDNumber = rows[1].IDNumber[:17] + "0"
	if rows[1].IDNumber == importer.ExampleRows("340199001002", 4)[1].IDNumber {
		rows[1].IDNumber = rows[1].IDNumber[:17] + "1"
	}
	rows[2].VillageCode = "340199002001" // another township's village
	rows[2].HouseholdID = "h34019900200191"
	path := filepath.Join(t.TempDir(), "花名册.xlsx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := importer.WriteRegister(out, rows); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	tab := browsers.Tab(t, browsertest.Desktop)
	browserLogin(tab, f, "township1")
	tab.Do(
		chromedp.Click(chromedp.CSS(`nav.menu a[href="/import"]`)),
		chromedp.WaitVisible(chromedp.CSS("#register")),
		chromedp.SetUploadFiles(chromedp.CSS("#register"), []string{path}),
		chromedp.Click(chromedp.CSS("form button[type=submit].primary")),
		chromedp.WaitVisible(chromedp.CSS("#import-result")),
	)
	tab.Screenshot("result")
	if n := tab.Text("#imported .n"); n != "2" {
		t.Errorf("imported = %s, want 2", n)
	}
	problems := browsertest.Eval[[]string](tab, `Array.from(document.querySelectorAll("#problems tbody tr")).map(r => r.cells[0].textContent + "|" + r.cells[2].textContent)`)
	var rowNos []string
	for _, p := range problems {
		rowNos = append(rowNos, strings.SplitN(p, "|", 2)[0])
	}
	if len(problems) != 2 {
		t.Fatalf("problems table = %q, want the bad ID row and the out-of-township row", problems)
	}
	if strings.Contains(strings.Join(problems, " "), rows[1].IDNumber) {
		t.Errorf("problems show the identity number unmasked: %q", problems)
	}
	tab.Do(chromedp.Navigate(f.url + "/households/" + rows[0].HouseholdID))
	if h := tab.Text("#head-name"); !strings.Contains(h, rows[0].HeadName) {
		t.Errorf("imported household file heading = %q, want %s", h, rows[0].HeadName)
	}
	t.Logf("problem rows %v", rowNos)
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()
}
