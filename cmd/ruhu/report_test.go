package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/importer"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// seededDataDir makes the data folder of a stopped server holding the
// demo county.
func seededDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	store, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(store, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, &out)
	return out.String(), err
}

func writePolicy(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "340199.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportCLI: `ruhu report` prints the Chinese roll-up of a stopped
// server's store, writes JSON, CSV and XLSX files, honours a policy folder
// and refuses bad arguments by name.
func TestReportCLI(t *testing.T) {
	data := seededDataDir(t)
	period := demoReportPeriod(time.Now()).Label
	out, err := runCLI(t, "report", "--data", data, "--area", "340199", "--period", period)
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, want := range []string{"合规汇总  区域 340199  周期 " + period, "走访逾期 1、驻村天数不足 1、危房改造资料不全 1",
		"  340199001       乡镇          2     驻村天数不足 1、危房改造资料不全 1", "孙大山（户 " + demoOverdueHousehold, "驻村 14 天 / 要求 20 天"} {
		if !strings.Contains(out, want) {
			t.Errorf("report output lacks %q:\n%s", want, out)
		}
	}
	township, err := runCLI(t, "report", "--data", data, "--area", "340199002", "--period", period)
	if err != nil || strings.Contains(township, "桃园村") || !strings.Contains(township, "河湾村  1     走访逾期 1") {
		t.Errorf("township report (%v):\n%s", err, township)
	}

	dir := t.TempDir()
	jsonPath, xlsxPath, csvPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xlsx"), filepath.Join(dir, "short.csv")
	for _, args := range [][]string{
		{"--out", jsonPath},
		{"--out", xlsxPath},
		{"--out", csvPath, "--list", string(rules.KindResidencyShort)},
	} {
		if out, err := runCLI(t, append([]string{"report", "--data", data, "--area", "340199", "--period", period}, args...)...); err != nil || !strings.Contains(out, "报告已写入") {
			t.Fatalf("report %v: %v\n%s", args, err, out)
		}
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var r reports.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if r.Summary.Total != 3 || len(r.Lists.VisitOverdue) != 1 || r.Lists.VisitOverdue[0].HouseholdID != demoOverdueHousehold {
		t.Errorf("JSON report: total %d, overdue %+v", r.Summary.Total, r.Lists.VisitOverdue)
	}
	f, err := excelize.OpenFile(xlsxPath)
	if err != nil {
		t.Fatalf("xlsx report: %v", err)
	}
	rows, _ := f.GetRows("汇总")
	f.Close()
	if len(rows) != 7 || rows[1][0] != "340199" || rows[1][len(rows[1])-1] != "3" {
		t.Errorf("xlsx summary %v", rows)
	}
	csv, _ := os.ReadFile(csvPath)
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 2 || !strings.Contains(lines[1], demoShortMember) {
		t.Errorf("csv %q", lines)
	}

	// A policy of 14 days a month: zhao is no longer short.
	out, err = runCLI(t, "report", "--data", data, "--area", "340199", "--period", period, "--policies", writePolicy(t, "residency:\n  days_per_month: 14\n"))
	if err != nil || strings.Contains(out, "驻村天数不足") || !strings.Contains(out, "走访逾期 1") {
		t.Errorf("report with a 14-day policy (%v):\n%s", err, out)
	}

	for _, sc := range []struct {
		args []string
		want string
	}{
		{[]string{"--area", "340199", "--period", "2026H3"}, "--period"},
		{[]string{"--area", "34x", "--period", period}, "--area"},
		{[]string{"--area", "340199", "--period", period, "--format", "pdf"}, "--format"},
		{[]string{"--area", "340199", "--period", period, "--policies", writePolicy(t, "residency:\n  days_per_month: 0\n")}, "residency.days_per_month"},
		{[]string{"--area", "340199", "--period", period, "--out", filepath.Join(dir, "x.csv"), "--list", "nope"}, "unknown report list"},
	} {
		out, err := runCLI(t, append([]string{"report", "--data", data}, sc.args...)...)
		if err == nil || !strings.Contains(err.Error(), sc.want) {
			t.Errorf("report %v: error %v, want one naming %s\n%s", sc.args, err, sc.want, out)
		}
	}
	if _, err := runCLI(t, "report", "--data", t.TempDir(), "--area", "340199", "--period", period); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Errorf("report on an empty folder: %v", err)
	}
}

// TestImportCLI: `ruhu import households` writes the good rows, prints every
// bad one, and changes nothing when run again on the same file.
func TestImportCLI(t *testing.T) {
	data := seededDataDir(t)
	rows := importer.ExampleRows("340199001002", 3)
	bad := importer.ExampleRows("340199002001", 5)[4]
	bad.IDNumber = bad.IDNumber[:10] + "99" + bad.IDNumber[12:] // birth month 99
	other := importer.ExampleRows("340199002001", 6)[5]
	path := filepath.Join(t.TempDir(), "花名册.xlsx")
	var buf bytes.Buffer
	if err := importer.WriteRegister(&buf, append(rows, bad, other)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "import", "households", "--data", data, path)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if !strings.Contains(out, "新增或更新 4 户，未变化 0 户，有问题 1 处") || !strings.Contains(out, "第6行 身份证号：") || !strings.Contains(out, importer.CodeBadIDBirthDate) {
		t.Errorf("import output:\n%s", out)
	}
	if strings.Contains(out, bad.IDNumber) {
		t.Errorf("an identity number is printed in full:\n%s", out)
	}
	out, err = runCLI(t, "import", "households", "--data", data, path)
	if err != nil || !strings.Contains(out, "新增或更新 0 户，未变化 4 户") {
		t.Errorf("second import (%v):\n%s", err, out)
	}
	// As the township user of 340199001, the 340199002001 row is refused.
	other.Phone = "13900000000"
	buf.Reset()
	if err := importer.WriteRegister(&buf, []importer.Row{rows[0], other}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "import", "households", "--data", data, "--as", "township1", path)
	if err != nil || !strings.Contains(out, "新增或更新 0 户，未变化 1 户，有问题 1 处") || !strings.Contains(out, importer.CodeUnknownVillage) {
		t.Errorf("import as township1 (%v):\n%s", err, out)
	}
	if _, err := runCLI(t, "import", "households", "--data", data, "--as", "wang", path); err == nil || !strings.Contains(err.Error(), "may not import") {
		t.Errorf("import as an officer: %v", err)
	}
	if _, err := runCLI(t, "import", "households", "--data", data); err == nil {
		t.Error("import without a file succeeded")
	}
	// The imported households are in the next report's tree.
	out, err = runCLI(t, "report", "--data", data, "--area", "340199001002", "--period", demoReportPeriod(time.Now()).Label)
	if err != nil || !strings.Contains(out, "340199001002") {
		t.Errorf("report after import (%v):\n%s", err, out)
	}
}

// TestServeRefusesBadPolicies: a bad policy file stops `ruhu serve` at
// start-up, naming the file and the key.
func TestServeRefusesBadPolicies(t *testing.T) {
	dir := writePolicy(t, "checkin:\n  geofence_m: -5\n")
	_, err := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--policies", dir)
	if err == nil || !strings.Contains(err.Error(), "340199.yaml") || !strings.Contains(err.Error(), "checkin.geofence_m") {
		t.Fatalf("serve with a bad policy: %v", err)
	}
}
