package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
)

const reportUsage = "usage: ruhu report --data DIR --area CODE --period 2026H2 [--format json|csv|xlsx] [--list NAME] [--out FILE] [--policies DIR]"

// loadPolicies loads a folder of policy files over the shipped defaults;
// "" means the shipped defaults alone. Errors name the file and the key.
func loadPolicies(dir string) (*rules.PolicySet, error) {
	if dir == "" {
		return rules.DefaultPolicies()
	}
	ps, err := rules.LoadPolicyDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policies %s: %w", dir, err)
	}
	return ps, nil
}

// openExistingStore opens the store of a stopped server; unlike openStore
// it refuses to create one, and says what to do when a server holds it.
func openExistingStore(dataDir string) (*boltstore.Store, error) {
	path := filepath.Join(dataDir, "ruhu.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: %w", path, err)
	}
	store, err := boltstore.Open(path, boltstore.Options{})
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by a running server: stop it, or ask the server (GET /v1/reports/compliance, POST /v1/import/households): %w", path, err)
	}
	return store, err
}

// runReport writes the compliance report of an area for a period from the
// store of a stopped server: a Chinese summary on stdout, or the report in
// a file with --out; either is recorded in the audit log as an export by
// the operator.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr(getenv, "RUHU_DATA", "./data"), "data directory of a stopped server")
	area := fs.String("area", "", "area-code prefix, 2 to 12 digits (e.g. a county's 6)")
	periodText := fs.String("period", "", "2026, 2026H2, 2026Q3 or 2026-11")
	format := fs.String("format", "", "json, csv or xlsx (default: the extension of --out, else json)")
	list := fs.String("list", "summary", "for csv: summary or a finding kind ("+strings.Join(reports.ListNames(), ", ")+")")
	out := fs.String("out", "", "write the report to this file instead of printing the summary")
	policyDir := fs.String("policies", getenv("RUHU_POLICIES"), "folder of policy files layered over the shipped defaults (env RUHU_POLICIES)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), reportUsage)
	}
	if len(*area) < 2 || len(*area) > 12 || strings.Trim(*area, "0123456789") != "" {
		return fmt.Errorf("--area: must be an area code of 2 to 12 digits, got %q\n%s", *area, reportUsage)
	}
	period, err := rules.ParsePeriod(*periodText)
	if err != nil {
		return fmt.Errorf("--period: %w\n%s", err, reportUsage)
	}
	if *format == "" {
		*format = "json"
		if ext := strings.TrimPrefix(filepath.Ext(*out), "."); ext == "csv" || ext == "xlsx" {
			*format = ext
		}
	}
	if *format != "json" && *format != "csv" && *format != "xlsx" {
		return fmt.Errorf("--format: must be json, csv or xlsx, got %q", *format)
	}
	policies, err := loadPolicies(*policyDir)
	if err != nil {
		return err
	}
	store, err := openExistingStore(*data)
	if err != nil {
		return err
	}
	defer store.Close()
	r, err := server.ComplianceReport(store.Core(), policies, *area, period, time.Now())
	if err != nil {
		return err
	}
	// The lists name households: what is printed or written is recorded
	// in the audit log first, as the server records its downloads.
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	app := core.New(slog.New(slog.NewTextHandler(stderr, nil)), store.Core(), reg, core.Options{})
	export := core.Export{What: "compliance_report", Area: *area, Format: *format, Period: period.Label, File: *out, Via: "cli"}
	if *out == "" {
		var buf bytes.Buffer
		printReportSummary(&buf, r)
		export.Format, export.Body = "text", buf.Bytes()
		if err := app.RecordExport(ctx, core.Operator(), export); err != nil {
			return err
		}
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	var buf bytes.Buffer
	switch *format {
	case "json":
		err = reports.WriteJSON(&buf, r)
	case "csv":
		err = reports.WriteCSV(&buf, r, *list)
	case "xlsx":
		err = reports.WriteXLSX(&buf, r)
	}
	if err != nil {
		return err
	}
	if *format == "csv" {
		export.List = *list
	}
	export.Body = buf.Bytes()
	if err := app.RecordExport(ctx, core.Operator(), export); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(stdout, "报告已写入 %s（%s，%d 项问题）\n", *out, *format, r.Summary.Total)
	return nil
}

// printReportSummary prints the roll-up as a Chinese table, one row per
// area indented by level, then every finding list, one line per finding.
func printReportSummary(w io.Writer, r *reports.Report) {
	fmt.Fprintf(w, "合规汇总  区域 %s  周期 %s  判定时间 %s\n", r.Area, r.Period.Label, r.AsOf.In(rules.Shanghai()).Format("2006-01-02 15:04"))
	rows := [][]string{{"区划代码", "层级", "名称", "合计", "明细"}}
	names := map[string]string{}
	r.Summary.Walk(func(n *reports.Node, depth int) {
		names[n.Code] = n.Name
		var parts []string
		for _, k := range reports.Kinds() {
			if c := n.Counts[k]; c > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", reports.Title(k), c))
			}
		}
		detail := strings.Join(parts, "、")
		if detail == "" {
			detail = "无问题"
		}
		rows = append(rows, []string{strings.Repeat("  ", depth) + n.Code, n.Level.Label(), n.Name, strconv.Itoa(n.Total), detail})
	})
	writeTable(w, rows)
	place := func(area string) string {
		if n := names[area]; n != "" {
			return area + " " + n
		}
		return area
	}
	section := func(k rules.Kind, n int) bool {
		if n == 0 {
			return false
		}
		fmt.Fprintf(w, "\n%s（%d）\n", k.Title(), n)
		return true
	}
	l := &r.Lists
	for _, list := range []struct {
		kind rules.Kind
		list []rules.VisitFinding
	}{{rules.KindVisitOverdue, l.VisitOverdue}, {rules.KindVisitDueSoon, l.VisitDueSoon}} {
		if section(list.kind, len(list.list)) {
			for _, f := range list.list {
				last := f.LastVisit.String()
				if last == "" {
					last = "无"
				}
				fmt.Fprintf(w, "  %s  %s（户 %s，%s）要求%s  最近走访 %s  截止 %s", place(f.Area), f.HeadName, f.HouseholdID, f.Status.Label(), f.Required.Label(), last, f.DueBy)
				if list.kind == rules.KindVisitOverdue {
					fmt.Fprintf(w, "  逾期 %d 天\n", f.DaysOverdue)
				} else {
					fmt.Fprintf(w, "  剩余 %d 天\n", f.DaysLeft)
				}
			}
		}
	}
	if section(rules.KindResidencyShort, len(l.ResidencyShort)) {
		for _, f := range l.ResidencyShort {
			fmt.Fprintf(w, "  %s  %s  %s  驻村 %d 天 / 要求 %d 天（签到 %d 天，公务 %d 天，未计入签到 %d 次）\n",
				place(f.Area), f.Member, f.Month, f.Days, f.Required, f.CheckinDays, f.DutyDays, f.NotCounted)
		}
	}
	if section(rules.KindCheckinClock, len(l.CheckinClock)) {
		for _, f := range l.CheckinClock {
			fmt.Fprintf(w, "  %s  %s  签到 %s  设备时间超前 %d 分钟（限 %d）\n", place(f.Area), f.Member, f.CheckinID, f.AheadMinutes, f.LimitMinutes)
		}
	}
	if section(rules.KindCheckinTravel, len(l.CheckinTravel)) {
		for _, f := range l.CheckinTravel {
			fmt.Fprintf(w, "  %s  %s  签到 %s  距上次 %.1f 公里，%.0f 公里/小时（限 %.0f）\n", place(f.Area), f.Member, f.CheckinID, f.DistanceKm, f.SpeedKmh, f.MaxKmh)
		}
	}
	if section(rules.KindCaseloadExceeded, len(l.Caseload)) {
		for _, f := range l.Caseload {
			fmt.Fprintf(w, "  %s  %s  帮扶 %d 户（上限 %d）\n", place(f.Area), f.Officer, f.Households, f.Limit)
		}
	}
	if section(rules.KindTeamTooSmall, len(l.TeamTooSmall)) {
		for _, f := range l.TeamTooSmall {
			fmt.Fprintf(w, "  %s  %d 人（要求 %d）\n", place(f.Area), f.Size, f.Required)
		}
	}
	if section(rules.KindAnsweredByOther, len(l.AnsweredBy)) {
		for _, f := range l.AnsweredBy {
			fmt.Fprintf(w, "  %s  %s  走访 %s（%s）%s\n", place(f.Area), f.HeadName, f.VisitID, f.Officer, rules.ReasonLabel(f.Reason))
		}
	}
	if section(rules.KindHousingEvidenceGap, len(l.HousingGaps)) {
		for _, f := range l.HousingGaps {
			fmt.Fprintf(w, "  %s  %s  案件 %s（%s级）缺少 %s\n", place(f.Area), f.HeadName, f.CaseID, f.Grade, strings.Join(f.Missing, "、"))
		}
	}
}
