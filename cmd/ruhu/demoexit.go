package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
)

// The household the demo walks through its exit (脱贫退出), its case and
// the rectification ledger item the demo opens and closes.
const (
	demoExitHousehold = "h34019900100103"
	demoExitCase      = "exit-h34019900100103"
	demoLedgerItem    = "ledger-demo-1"
	demoExitSignature = "sig-exit-h34019900100103"
)

// demoExitStart is the first step of the demo exit: 20 days before now at
// 09:00 China time, so every step and both notices lie in the past.
func demoExitStart(now time.Time) time.Time {
	d := now.In(rules.Shanghai()).AddDate(0, 0, -20)
	return time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, rules.Shanghai())
}

// seedDemoExit adds what the exit standards of demoExitHousehold are
// judged from: an income survey of the step's income year above the line,
// the head insured, and a visit the day before the appraisal with every
// 两不愁三保障 item met. The household has no housing case and no child.
func seedDemoExit(addBy func(author, col, id, area string, fields map[string]any), now time.Time) {
	start := demoExitStart(now)
	policies, _ := rules.DefaultPolicies() // the shipped files are checked by the rules tests
	year := rules.IncomeYearKey(start, policies.For(demoArea, start.Year()).Income)
	addBy("wang", collection.Members, "m"+demoExitHousehold, demoArea, map[string]any{"insured": true})
	addBy("wang", collection.IncomeSurveys, "inc-"+demoExitHousehold, demoArea, map[string]any{"household_id": demoExitHousehold,
		"income_year": year, "surveyed_at": start.AddDate(0, 0, -3).Format(time.RFC3339), "surveyor": "wang", "household_size": 3,
		"wage_migrant_work_yuan": 18000, "business_farming_yuan": 3500, "transfer_subsidy_yuan": 800, "production_costs_yuan": 1200})
	addBy("wang", collection.Visits, "vexit-"+demoExitHousehold, demoArea, map[string]any{"household_id": demoExitHousehold, "officer": "wang",
		"visited_at": start.AddDate(0, 0, -1).Format(time.RFC3339), "answered_by_member_id": "m" + demoExitHousehold, "answered_by_relation": "head",
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"},
		"notes":     "收入稳定，两不愁三保障均已落实，拟申请脱贫。"})
}

// demoExit walks demoExitHousehold through the exit procedure: the
// village steps on 赵队员's tablet (a 4-day notice refused by the server
// with its code and reason, then a 5-day one), the township's review,
// notice and approval and the county's registration over the API; then
// opens a ledger item and closes it, the rectifier's own verification and
// closing refused.
func demoExit(ctx context.Context, url, dataDir string, now time.Time, out io.Writer) error {
	fmt.Fprintln(out, "\n== 脱贫退出 (household exit) ==")
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	dir := filepath.Join(dataDir, "tablet-zhao")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tab, err := client.Open(filepath.Join(dir, "tablet.db"), client.Options{Validator: reg, Policy: mergePolicy(reg)})
	if err != nil {
		return err
	}
	defer tab.Close()
	if err := tab.Login(ctx, url, "zhao", demoPassword); err != nil {
		return fmt.Errorf("zhao login: %w", err)
	}
	if err := tab.Enroll(ctx, "平板C"); err != nil {
		return fmt.Errorf("zhao enroll: %w", err)
	}
	start := demoExitStart(now)
	day := func(d int) time.Time { return start.AddDate(0, 0, d) }
	step := func(kind rules.ExitStepKind, at time.Time, actor string, extra map[string]any) map[string]json.RawMessage {
		set := map[string]json.RawMessage{}
		put := func(k string, v any) { set[k], _ = json.Marshal(v) }
		put("case_id", demoExitCase)
		put("household_id", demoExitHousehold)
		put("step", kind)
		put("at", at.Format(time.RFC3339))
		put("actor", actor)
		for k, v := range extra {
			put(k, v)
		}
		return set
	}
	notice := func(posted time.Time, days int) map[string]any {
		return map[string]any{"notice_posted_at": posted.Format(time.RFC3339), "notice_ends_at": posted.AddDate(0, 0, days).Format(time.RFC3339),
			"notice_dated_as":     fmt.Sprintf("%d年%d月%d日", posted.Year(), posted.Month(), posted.Day()),
			"notice_photo_sha256": strings.Repeat("5e", 32)}
	}
	short := "step-village-notice-4d"
	village := []struct {
		id   string
		kind rules.ExitStepKind
		set  map[string]json.RawMessage
	}{
		{"step-appraisal", rules.StepAppraisal, step(rules.StepAppraisal, day(0), "zhao", map[string]any{"entitled": 42, "attended": 36, "signed": 31})},
		{"step-verification", rules.StepVerification, step(rules.StepVerification, day(1), "zhao", map[string]any{"village_committee_signer": "钱村长", "work_team_signer": "孙书记"})},
		{"step-acknowledgement", rules.StepAcknowledgement, step(rules.StepAcknowledgement, day(2), "zhao", map[string]any{"signature_id": demoExitSignature})},
		{short, rules.StepVillageNotice, step(rules.StepVillageNotice, day(3), "zhao", notice(day(3), 4))},
	}
	for _, s := range village {
		if _, err := tab.Save(ctx, collection.ExitSteps, s.id, demoArea, s.set); err != nil {
			return fmt.Errorf("tablet step %s: %w", s.kind, err)
		}
	}
	rep, err := tab.Sync(ctx, nil)
	if err != nil {
		return fmt.Errorf("zhao sync: %w", err)
	}
	fmt.Fprintf(out, "平板C (zhao): 村级步骤上传 %d 条，被拒 %d 条\n", rep.Pushed, rep.Rejected)
	for _, s := range village[:3] {
		fmt.Fprintf(out, "  %s：已受理\n", s.kind.Title())
	}
	rejected, err := tab.Rejected()
	if err != nil {
		return err
	}
	refused := false
	for _, r := range rejected {
		if r.Op.RecordID == short {
			refused = true
			fmt.Fprintf(out, "  村内公示 4 天：被拒 %s %s\n", r.Code, r.Message)
			if err := tab.DismissRejected(r.Op.ID); err != nil {
				return err
			}
		}
	}
	if !refused {
		return fmt.Errorf("demo exit: the 4-day notice was not refused")
	}
	if _, err := tab.Save(ctx, collection.ExitSteps, "step-village-notice", demoArea, step(rules.StepVillageNotice, day(3), "zhao", notice(day(3), 5))); err != nil {
		return fmt.Errorf("tablet notice: %w", err)
	}
	if rep, err = tab.Sync(ctx, nil); err != nil || rep.Rejected > 0 {
		return fmt.Errorf("zhao sync of the 5-day notice: %v (rejected %d)", err, rep.Rejected)
	}
	fmt.Fprintln(out, "  村内公示 5 天：已受理")

	town, err := demoLogin(ctx, url, "township1")
	if err != nil {
		return err
	}
	county, err := demoLogin(ctx, url, "county")
	if err != nil {
		return err
	}
	remote := []struct {
		token, user, id string
		kind            rules.ExitStepKind
		at              time.Time
		extra           map[string]any
	}{
		{town, "township1", "step-township-review", rules.StepTownshipReview, day(9), map[string]any{"passed": true}},
		{town, "township1", "step-township-notice", rules.StepTownshipNotice, day(10), notice(day(10), 5)},
		{town, "township1", "step-township-approval", rules.StepTownshipApproval, day(16), map[string]any{"passed": true}},
		{county, "county", "step-county-registration", rules.StepCountyRegistration, day(17), map[string]any{"registration_ref": "县扶贫办备2026-103"}},
	}
	for _, s := range remote {
		if code, msg, err := demoEditRecord(ctx, url, s.token, collection.ExitSteps, s.id, demoArea, step(s.kind, s.at, s.user, s.extra)); err != nil || code != "" {
			return fmt.Errorf("%s by %s: %v %s %s", s.kind, s.user, err, code, msg)
		}
		fmt.Fprintf(out, "  %s（%s）：已受理\n", s.kind.Title(), s.user)
	}
	fmt.Fprintf(out, "农户 %s 退出程序完成，已备案\n", demoExitHousehold)

	fmt.Fprintln(out, "\n== 问题台账 (rectification ledger) ==")
	at := func(d int) string { return now.AddDate(0, 0, d).Format(time.RFC3339) }
	ledger := []struct {
		who, token string
		set        map[string]any
		refused    bool
		what       string
	}{
		{"township1", town, map[string]any{"source": "residency_short", "source_ref": "zhao", "category": "驻村管理", "problem": "驻村工作队员赵队员上月驻村天数不足",
			"responsible_unit": "桃园村驻村工作队", "responsible_person": "孙书记", "deadline": now.AddDate(0, 0, 30).Format("2006-01-02"),
			"status": "open", "opened_by": "township1", "opened_at": at(-2)}, false, "乡镇建立台账"},
		{"township1", town, map[string]any{"status": "rectified", "rectified_by": "township1", "rectified_at": at(-1),
			"measures": "约谈队员，补足驻村天数并每日签到", "evidence_record_ids": []string{"vexit-" + demoExitHousehold}}, false, "乡镇填报整改"},
		{"township1", town, map[string]any{"status": "verified", "verified_by": "township1", "verified_at": at(0)}, true, "整改人自己核验"},
		{"county", county, map[string]any{"status": "verified", "verified_by": "county", "verified_at": at(0)}, false, "县级核验"},
		{"township1", town, map[string]any{"status": "closed", "closed_by": "township1", "closed_at": at(0)}, true, "整改人自己销号"},
		{"county", county, map[string]any{"status": "closed", "closed_by": "county", "closed_at": at(0)}, false, "县级销号"},
	}
	for _, l := range ledger {
		set := map[string]json.RawMessage{}
		for k, v := range l.set {
			set[k], _ = json.Marshal(v)
		}
		code, msg, err := demoEditRecord(ctx, url, l.token, collection.LedgerItems, demoLedgerItem, demoArea, set)
		switch {
		case err != nil:
			return fmt.Errorf("ledger %s: %w", l.what, err)
		case l.refused != (code != ""):
			return fmt.Errorf("ledger %s: refused=%v, got %q %s", l.what, l.refused, code, msg)
		case l.refused:
			fmt.Fprintf(out, "%s（%s）：被拒 %s %s\n", l.what, l.who, code, msg)
		default:
			fmt.Fprintf(out, "%s（%s）：已受理\n", l.what, l.who)
		}
	}
	fmt.Fprintf(out, "台账问题 %s 已销号\n", demoLedgerItem)
	return nil
}

// demoEditRecord sets fields of a record over POST /v1/records/{col}/{id}
// (core.Edit). A refusal is returned as its code and message with a nil
// error; err is for a failed request.
func demoEditRecord(ctx context.Context, url, token, col, id, area string, set map[string]json.RawMessage) (code, msg string, err error) {
	body, err := json.Marshal(map[string]any{"area": area, "set": set})
	if err != nil {
		return "", "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/records/"+col+"/"+id, bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode == http.StatusOK {
		return "", "", nil
	}
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil || e.Code == "" {
		return "", "", fmt.Errorf("POST %s/%s: %s %s", col, id, resp.Status, b)
	}
	return e.Code, e.Message, nil
}
