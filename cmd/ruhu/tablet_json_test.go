package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// jsonTablet runs `ruhu tablet --json` commands and decodes the one JSON
// object each prints; fail fails the test unless the command succeeded.
func jsonTablet(t *testing.T, dir string) (run func(args ...string) (map[string]any, error), must func(args ...string) map[string]any) {
	tablet, _ := tabletCommands(t, dir)
	run = func(args ...string) (map[string]any, error) {
		t.Helper()
		out, _, err := tablet(append([]string{"--json"}, args...)...)
		var obj map[string]any
		if strings.Count(strings.TrimSpace(out), "\n") != 0 || json.Unmarshal([]byte(out), &obj) != nil {
			t.Fatalf("tablet --json %v printed %q, not one JSON object (err %v)", args, out, err)
		}
		return obj, err
	}
	must = func(args ...string) map[string]any {
		t.Helper()
		obj, err := run(args...)
		if err != nil || obj["ok"] != true {
			t.Fatalf("tablet --json %v: %v %v", args, err, obj)
		}
		return obj
	}
	return run, must
}

// TestTabletCLIJSON: every command prints one JSON object with ids,
// counts and codes; household set types its value by the schema; township
// staff assign and end an assignment; a JSON Lines file of visits imports
// only when every line passes, once.
func TestTabletCLIJSON(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))

	// Township staff assign li to a household of 桃园村, then end it.
	_, town := jsonTablet(t, filepath.Join(dir, "township"))
	if got := town("login", "--server", srv.url, "--user", "township1"); got["user"] != "township1" || got["enrolled"] != false {
		t.Fatalf("login: %v", got)
	}
	if got := town("enroll", "--name", "乡镇平板"); got["device_id"] == "" || got["device_name"] != "乡镇平板" {
		t.Fatalf("enroll: %v", got)
	}
	if got := town("sync"); got["pulled"].(float64) == 0 || got["rejected"].(float64) != 0 {
		t.Fatalf("first sync: %v", got)
	}
	const hh = "h34019900100103"
	add := town("assignment", "add", "--officer", "li", "--household", hh, "--start", "2026-11-01")
	aid, _ := add["id"].(string)
	if aid == "" || add["household_id"] != hh {
		t.Fatalf("assignment add: %v", add)
	}
	if got := town("sync"); got["pushed"].(float64) != 1 || got["rejected"].(float64) != 0 {
		t.Fatalf("sync of the assignment: %v", got)
	}
	township := login(t, srv.url, "township1")
	if f := township.record("assignments", aid).Record.Fields; string(f["active"]) != "true" || string(f["officer"]) != `"li"` {
		t.Fatalf("assignment on the server: %s", dump(f))
	}
	if got := town("assignment", "end", "--id", aid, "--end", "2026-11-30"); got["id"] != aid {
		t.Fatalf("assignment end: %v", got)
	}
	town("sync")
	if f := township.record("assignments", aid).Record.Fields; string(f["active"]) != "false" || string(f["end_date"]) != `"2026-11-30"` {
		t.Fatalf("ended assignment on the server: %s", dump(f))
	}

	run, must := jsonTablet(t, filepath.Join(dir, "wang"))
	must("login", "--server", srv.url, "--user", "wang")
	must("enroll", "--name", "平板A")
	must("sync")
	if got := must("households"); got["count"].(float64) != 3 || len(got["households"].([]any)) != 3 {
		t.Fatalf("households: %v", got)
	}

	// The phone is the string the schema asks for, typed plainly; a number
	// field gets a number; the old quoted form still works.
	tests := []struct{ field, value, want string }{
		{"phone", "13900000001", `"13900000001"`},
		{"member_count", "5", `5`},
		{"address", `"桃园村1组2号"`, `"桃园村1组2号"`},
	}
	for _, tt := range tests {
		got := must("household", "set", "--id", demoHousehold, "--field", tt.field, "--value", tt.value)
		if b, _ := json.Marshal(got["value"]); string(b) != tt.want {
			t.Errorf("household set %s %s: stored %s, want %s", tt.field, tt.value, b, tt.want)
		}
	}
	obj, err := run("household", "set", "--id", demoHousehold, "--field", "member_count", "--value", "五")
	if syncengine.ErrorCode(err) != syncengine.EINVALID || obj["ok"] != false || obj["code"] != syncengine.EINVALID {
		t.Fatalf("a number field given text: %v %v", err, obj)
	}

	// A batch of visits: one bad line stops the whole file.
	file := filepath.Join(dir, "visits.jsonl")
	line := func(id, water string) string {
		return `{"id":"` + id + `","household_id":"` + demoHousehold + `","checklist":{"food":"ok","clothing":"ok","education":"ok","medical":"ok","housing":"ok"` + water + `},"answered_by_name":"张建国","notes":"批量导入"}`
	}
	write := func(lines ...string) {
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(line("imp-1", `,"drinking_water":"ok"`), line("imp-2", ""), `{"household_id":"nope"}`)
	obj, err = run("visit", "import", file)
	errs, _ := obj["errors"].([]any)
	if syncengine.ErrorCode(err) != syncengine.EINVALID || obj["imported"].(float64) != 0 || len(errs) != 2 ||
		errs[0].(map[string]any)["line"].(float64) != 2 || errs[1].(map[string]any)["code"] != syncengine.ENOTFOUND {
		t.Fatalf("import with bad lines: %v %v", err, obj)
	}
	if got := must("status"); got["pending"].(float64) != 3 {
		t.Fatalf("a refused import saved something: %v", got)
	}
	write(line("imp-1", `,"drinking_water":"ok"`), line("imp-2", `,"drinking_water":"problem"`))
	if got := must("visit", "import", file); got["imported"].(float64) != 2 || got["skipped"].(float64) != 0 {
		t.Fatalf("import: %v", got)
	}
	if got := must("visit", "import", file); got["imported"].(float64) != 0 || got["skipped"].(float64) != 2 {
		t.Fatalf("import again: %v", got)
	}
	if got := must("sync"); got["pushed"].(float64) != 5 || got["rejected"].(float64) != 0 {
		t.Fatalf("sync: %v", got)
	}
	wang := login(t, srv.url, "wang")
	if f := wang.record("visits", "imp-2").Record.Fields; !strings.Contains(string(f["checklist"]), `"drinking_water":"problem"`) || string(f["officer"]) != `"wang"` {
		t.Fatalf("imported visit on the server: %s", dump(f))
	}
	if f := wang.record("households", demoHousehold).Record.Fields; string(f["phone"]) != `"13900000001"` {
		t.Fatalf("phone on the server: %s", f["phone"])
	}
	for _, cmd := range [][]string{{"status"}, {"rejected"}, {"uploads"}} {
		got := must(cmd...)
		if cmd[0] == "rejected" && got["count"].(float64) != 0 {
			t.Fatalf("rejected: %v", got)
		}
		if cmd[0] == "status" && (got["pending"].(float64) != 0 || got["last_sync"] == nil) {
			t.Fatalf("status: %v", got)
		}
	}
	obj, err = run("visit", "add", "--household", "nope")
	if syncengine.ErrorCode(err) != syncengine.ENOTFOUND || obj["code"] != syncengine.ENOTFOUND || obj["message"] == "" {
		t.Fatalf("visit add to an unknown household: %v %v", err, obj)
	}
	obj, err = run("visit", "add")
	if obj["code"] != syncengine.EINVALID || err == nil {
		t.Fatalf("visit add without --household: %v %v", err, obj)
	}
}
