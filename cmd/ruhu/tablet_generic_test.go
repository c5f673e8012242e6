package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestTabletRecordSave: the tablet CLI writes records of the procedure
// collections (an income survey here) validated by their schema, and the
// server holds them after a sync; bad input is refused with EINVALID and
// nothing is queued.
func TestTabletRecordSave(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	run, must := jsonTablet(t, filepath.Join(dir, "wang"))
	must("login", "--server", srv.url, "--user", "wang")
	must("enroll", "--name", "平板A")
	must("sync")

	survey := `{"household_id":"` + demoHousehold + `","income_year":"2025-2026","surveyed_at":"2026-11-20T10:00:00+08:00",` +
		`"surveyor":"wang","household_size":4,"wage_migrant_work_yuan":18000,"production_costs_yuan":2000}`
	file := filepath.Join(dir, "survey.json")
	if err := os.WriteFile(file, []byte(survey), 0o600); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name string
		args []string
	}{
		{"unknown collection", []string{"--collection", "nope", "--household", demoHousehold, "--fields", "{}"}},
		{"fields not an object", []string{"--collection", "income_surveys", "--household", demoHousehold, "--fields", "[1]"}},
		{"two objects", []string{"--collection", "income_surveys", "--household", demoHousehold, "--fields", "{} {}"}},
		{"schema refuses a negative income", []string{"--collection", "income_surveys", "--household", demoHousehold,
			"--fields", `{"wage_other_yuan":-5}`}},
		{"no area", []string{"--collection", "income_surveys", "--fields", survey}},
		{"missing file", []string{"--collection", "income_surveys", "--household", demoHousehold, "--fields", "@" + filepath.Join(dir, "none.json")}},
	}
	for _, tt := range bad {
		obj, err := run(append([]string{"record", "save"}, tt.args...)...)
		if syncengine.ErrorCode(err) != syncengine.EINVALID || obj["code"] != syncengine.EINVALID {
			t.Errorf("%s: %v %v, want EINVALID", tt.name, err, obj)
		}
	}
	if got := must("status"); got["pending"].(float64) != 0 {
		t.Fatalf("refused saves left pending ops: %v", got)
	}

	saved := must("record", "save", "--collection", "income_surveys", "--household", demoHousehold, "--fields", "@"+file)
	id, _ := saved["id"].(string)
	if id == "" || saved["area"] != "340199001001" {
		t.Fatalf("record save: %v", saved)
	}
	if got := must("record", "show", "--collection", "income_surveys", "--id", id); got["pending"] != true {
		t.Fatalf("record show before sync: %v", got)
	}
	if got := must("sync"); got["pushed"].(float64) != 1 || got["rejected"].(float64) != 0 {
		t.Fatalf("sync of the survey: %v", got)
	}
	county := login(t, srv.url, "county")
	if f := county.record("income_surveys", id).Record.Fields; string(f["household_size"]) != "4" || string(f["wage_migrant_work_yuan"]) != "18000" {
		t.Fatalf("survey on the server: %s", dump(f))
	}
}
