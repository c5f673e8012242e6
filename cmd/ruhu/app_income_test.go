package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// TestFieldAppIncomeSurveyOffline: with the server down, wang opens the
// household, starts its income survey from the household screen, fills
// the form generated from the income_surveys schema (the income year
// preset to the one in progress) and saves it; the sync screen then
// pushes it and the server holds the survey with the formula's items,
// wang as surveyor and the household.
func TestFieldAppIncomeSurveyOffline(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	tdir := enrolledTablet(t, dir, srv.url, "wang")
	serverAddr := strings.TrimPrefix(srv.url, "http://")
	srv.stop()

	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	tab.Do(chromedp.Navigate(app.base + "/#/h/" + appHousehold))
	tab.WaitJS(`document.body.dataset.ready === "household"`)
	tab.Do(chromedp.Click(chromedp.CSS("#new-income")))
	tab.WaitJS(`document.body.dataset.ready === "form"`)
	year := browsertest.Eval[string](tab, `document.querySelector('input[name="income_year"]').value`)
	if len(year) != 9 || year[4] != '-' {
		t.Fatalf("income year preset %q", year)
	}
	if n := browsertest.Eval[int](tab, `document.querySelectorAll('#record-form input[type="number"]').length`); n != 16 {
		t.Errorf("%d number inputs, want household size and 15 income items", n)
	}
	for name, v := range map[string]string{"household_size": "2", "wage_migrant_work_yuan": "9000", "transfer_subsidy_yuan": "1200", "production_costs_yuan": "800"} {
		tab.Do(chromedp.SendKeys(chromedp.CSS(`input[name="`+name+`"]`), v))
	}
	if txt := browsertest.Eval[string](tab, `document.getElementById("record-form").innerText`); strings.Contains(txt, "null") {
		t.Errorf("the form shows a stray null")
	}
	tab.Screenshot("income-form")
	requireReadableScreen(t, tab, "income-form")
	tab.Do(chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved`)
	id := browsertest.Eval[string](tab, `document.body.dataset.saved`)
	tab.WaitJS(`document.body.dataset.ready === "household"`)

	srv = startServerAt(t, filepath.Join(dir, "server"), serverAddr)
	syncFromScreen(t, tab, app)
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()

	wang := login(t, srv.url, "wang")
	var rec map[string]any
	if code := wang.do("GET", "/v1/records/income_surveys/"+id, nil, &rec); code != 200 {
		t.Fatalf("survey on the server: %d", code)
	}
	b, _ := json.Marshal(rec)
	for _, want := range []string{`"household_id":"` + appHousehold + `"`, `"surveyor":"wang"`, `"income_year":"` + year + `"`,
		`"household_size":2`, `"wage_migrant_work_yuan":9000`, `"transfer_subsidy_yuan":1200`, `"production_costs_yuan":800`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("server survey lacks %s:\n%s", want, b)
		}
	}
}
