package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ruhu-dev/ruhu/internal/browsertest"
)

// meetExitStandards has wang record, from a second tablet, what the exit
// standards of appHousehold need: both members insured, a visit with every
// 两不愁三保障 item met, and an income survey above Anhui's line.
func meetExitStandards(t *testing.T, dir, serverURL string) {
	t.Helper()
	w := newTablet(t, dir, serverURL, "wang")
	ctx := context.Background()
	area := "340199001001"
	save := func(col, id string, fields map[string]any) {
		t.Helper()
		if _, err := w.Save(ctx, col, id, area, rawFields(t, fields)); err != nil {
			t.Fatalf("save %s/%s: %v", col, id, err)
		}
	}
	save("members", "m"+appHousehold+"a", map[string]any{"insured": true, "birth_date": "1965-01-01"})
	save("members", "m"+appHousehold+"b", map[string]any{"insured": true, "birth_date": "1963-05-01"})
	save("visits", "v-exit-"+appHousehold, map[string]any{"household_id": appHousehold, "officer": "wang",
		"visited_at": time.Now().Add(-time.Hour).Format(time.RFC3339), "answered_by_member_id": "m" + appHousehold + "a",
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "na", "medical": "ok", "housing": "ok", "drinking_water": "ok"}})
	now := time.Now()
	year := now.Year()
	if now.Month() >= time.October {
		year++
	}
	save("income_surveys", "inc-exit-"+appHousehold, map[string]any{"household_id": appHousehold, "income_year": fmt.Sprintf("%d-%d", year-1, year),
		"surveyed_at": now.Add(-time.Hour).Format(time.RFC3339), "surveyor": "wang", "household_size": 2, "wage_migrant_work_yuan": 9000})
	if rep, err := w.Sync(ctx, nil); err != nil || rep.Rejected > 0 {
		t.Fatalf("wang's setup sync: %v, %+v", err, rep)
	}
}

// exitStepForm opens the household's exit-step form from its screen.
func exitStepForm(tab *browsertest.Tab, app *fieldApp) {
	tab.Do(chromedp.Navigate(app.base + "/#/h/" + appHousehold))
	tab.WaitJS(`document.body.dataset.ready === "household"`)
	tab.Do(chromedp.Click(chromedp.CSS("#new-exit-step")))
	tab.WaitJS(`document.body.dataset.ready === "form" && !!document.querySelector('[name="step"]')`)
}

// pickStep chooses the step in the form's select, as a tap does (the form
// then shows that step's fields).
func pickStep(tab *browsertest.Tab, step string) {
	tab.Do(chromedp.SetValue(chromedp.CSS(`select[name="step"]`), step))
	browsertest.Eval[bool](tab, `document.querySelector('select[name="step"]').dispatchEvent(new Event("change", {bubbles: true}))`)
}

// saveForm saves the form and returns the saved record's id, or the
// error the form shows prefixed with "error: ".
func saveForm(tab *browsertest.Tab) string {
	tab.Do(chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.saved; document.getElementById("form-msg").replaceChildren()`),
		chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved || !!document.querySelector("#form-msg .error")`)
	got := browsertest.Eval[string](tab, `document.body.dataset.saved || "error: " + document.querySelector("#form-msg .error").textContent`)
	if browsertest.Eval[bool](tab, `!!document.body.dataset.saved`) {
		// Saved: the app goes back to the household.
		tab.WaitJS(`document.body.dataset.ready === "household"`)
	}
	return got
}

// TestFieldAppExitStepsOffline: the officer records the village steps of
// appHousehold's exit on the tablet, offline, in forms generated from the
// exit_steps schema; the server judges each step when it syncs. The
// democratic appraisal (31 of 42 households signed) is accepted; after
// the work team's verification (zhao), the household head's
// acknowledgement (signed on the pad) is accepted and a village notice of
// 4 days (posted and ending as local date-times, with a photo of the
// notice board) is refused with its reason on the sync screen, fixed from
// there to 5 days and accepted.
func TestFieldAppExitStepsOffline(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	meetExitStandards(t, dir, srv.url)
	tdir := enrolledTablet(t, dir, srv.url, "wang")
	serverAddr := strings.TrimPrefix(srv.url, "http://")
	srv.stop()

	app := startFieldApp(t, tdir)
	tab := browsers.Tab(t, browsertest.Tablet360)
	tab.Do(chromedp.Navigate(app.url))
	tab.WaitJS(`document.body.dataset.ready === "list"`)
	exitStepForm(tab, app)
	for _, auto := range []string{"case_id", "household_id", "actor", "at", "signature_id", "notice_photo_sha256"} {
		if browsertest.Eval[bool](tab, `!!document.querySelector('[name="`+auto+`"]')`) {
			t.Errorf("the form draws %s, which the app fills", auto)
		}
	}
	pickStep(tab, "appraisal")
	// Only the appraisal's fields show.
	if got := browsertest.Eval[string](tab, `[...document.querySelectorAll("#record-form [data-field]")].filter((x) => !x.hidden).map((x) => x.dataset.field).join(",")`); got != "step,entitled,attended,signed,photo_sha256s,notes" {
		t.Errorf("fields shown for the appraisal: %s", got)
	}
	for name, v := range map[string]string{"entitled": "42", "attended": "36", "signed": "31"} {
		tab.Do(chromedp.SendKeys(chromedp.CSS(`input[name="`+name+`"]`), v))
	}
	tab.Screenshot("exit-appraisal")
	requireReadableScreen(t, tab, "exit-appraisal")
	appraisal := saveForm(tab)
	if strings.Contains(appraisal, " ") || appraisal == "" {
		t.Fatalf("appraisal not saved: %s", appraisal)
	}

	srv = startServerAt(t, filepath.Join(dir, "server"), serverAddr)
	syncFromScreen(t, tab, app)
	if n := browsertest.Eval[int](tab, `document.querySelectorAll("#rejected [data-op]").length`); n != 0 {
		t.Fatalf("%d steps refused: %s", n, tab.Text("#rejected"))
	}
	// The work team verifies (team members only), from zhao's tablet.
	z := newTablet(t, dir, srv.url, "zhao")
	ctx := context.Background()
	if _, err := z.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Save(ctx, "exit_steps", "step-verify", "340199001001", rawFields(t, map[string]any{"case_id": "exit-" + appHousehold,
		"household_id": appHousehold, "step": "verification", "at": time.Now().Format(time.RFC3339), "actor": "zhao",
		"village_committee_signer": "钱村长", "work_team_signer": "孙书记"})); err != nil {
		t.Fatal(err)
	}
	if rep, err := z.Sync(ctx, nil); err != nil || rep.Rejected > 0 {
		t.Fatalf("zhao's verification: %v %+v", err, rep)
	}
	syncFromScreen(t, tab, app)
	srv.stop()

	// Offline again: the head acknowledges, the notice goes up for 4 days.
	exitStepForm(tab, app)
	pickStep(tab, "acknowledgement")
	if got := browsertest.Eval[string](tab, `[...document.querySelectorAll("#record-form [data-field]")].filter((x) => !x.hidden).map((x) => x.dataset.field).join(",")`); got != "step,notes,signature_id" {
		t.Errorf("fields shown for the acknowledgement: %s", got)
	}
	sign(t, tab)
	ack := saveForm(tab)
	if strings.Contains(ack, " ") || ack == "" {
		t.Fatalf("acknowledgement not saved: %s", ack)
	}
	exitStepForm(tab, app)
	posted := time.Now().Add(-time.Hour).In(time.FixedZone("CST", 8*3600))
	pickStep(tab, "village_notice")
	tab.Do(chromedp.SetValue(chromedp.CSS(`input[name="notice_posted_at"]`), posted.Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS(`input[name="notice_ends_at"]`), posted.AddDate(0, 0, 4).Format("2006-01-02T15:04")))
	if got := saveForm(tab); !strings.Contains(got, "公示栏照片") {
		t.Errorf("a notice without its photo: %q", got)
	}
	tab.Do(chromedp.SetUploadFiles(chromedp.CSS("#photo-input"), writeJPEGs(t, dir)[:1]))
	tab.WaitJS(`document.querySelectorAll("#photo-list figure").length === 1`)
	// The photo was what the refusal asked for: its mark and message go.
	if got := browsertest.Eval[string](tab, `document.querySelectorAll(".invalid").length + " " + document.getElementById("form-msg").textContent`); got != "0 " {
		t.Errorf("after adding the notice photo: %q, want no field marked and no refusal shown", got)
	}
	tab.Screenshot("exit-notice")
	requireReadableScreen(t, tab, "exit-notice")
	notice := saveForm(tab)
	if strings.Contains(notice, " ") || notice == "" {
		t.Fatalf("notice not saved: %s", notice)
	}

	srv = startServerAt(t, filepath.Join(dir, "server"), serverAddr)
	syncFromScreen(t, tab, app)
	tab.WaitJS(`document.querySelectorAll("#rejected [data-op]").length === 1`)
	// The officer reads the form's titles and the rule's sentence, not the
	// schema's keys nor the rule's code.
	if txt := tab.Text("#rejected"); strings.Contains(txt, "exit_notice_too_short") || strings.Contains(txt, "EINVALID") || !strings.Contains(txt, "少于5天") ||
		!strings.Contains(txt, "公示张贴时间") || strings.Contains(txt, "notice_posted_at") || strings.Contains(txt, "exit_steps") {
		t.Errorf("rejected list: %q", txt)
	}
	tab.Screenshot("exit-refused")
	requireReadableScreen(t, tab, "exit-refused")
	// Fixed from the rejected list: the same form, its times shown as
	// entered; the notice now runs 5 days and is accepted.
	// The sync screen redraws the list while it polls: click by script.
	tab.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#rejected button.fix").click()`))
	tab.WaitJS(`document.body.dataset.ready === "form" && !!document.querySelector('input[name="notice_ends_at"]')`)
	if got := browsertest.Eval[string](tab, `document.querySelector('input[name="notice_posted_at"]').value`); got != posted.Format("2006-01-02T15:04") {
		t.Errorf("fix form shows the posting time as %q", got)
	}
	tab.Do(chromedp.SetValue(chromedp.CSS(`input[name="notice_ends_at"]`), posted.AddDate(0, 0, 5).Format("2006-01-02T15:04")))
	tab.Do(chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.saved`), chromedp.Click(chromedp.CSS("#save")))
	tab.WaitJS(`!!document.body.dataset.saved`)
	fixed := browsertest.Eval[string](tab, `document.body.dataset.saved`)
	syncFromScreen(t, tab, app)
	tab.WaitJS(`document.querySelectorAll("#rejected [data-op]").length === 0`)
	tab.RequireLoopbackOnly()
	tab.RequireNoProblems()

	wang := login(t, srv.url, "wang")
	for id, want := range map[string]int{appraisal: 200, "step-verify": 200, ack: 200, notice: 404, fixed: 200} {
		var rec struct {
			Record struct {
				Fields map[string]any `json:"fields"`
			} `json:"record"`
		}
		if code := wang.do("GET", "/v1/records/exit_steps/"+id, nil, &rec); code != want {
			t.Errorf("exit step %s on the server: %d, want %d", id, code, want)
		} else if code == 200 && rec.Record.Fields["case_id"] != "exit-"+appHousehold {
			t.Errorf("exit step %s of case %v", id, rec.Record.Fields["case_id"])
		}
	}
}
