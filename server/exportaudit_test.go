package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/ruhu-dev/ruhu/server/importer"
)

type auditTrail struct {
	Entries []struct {
		Seq    uint64            `json:"seq"`
		Kind   string            `json:"kind"`
		Actor  string            `json:"actor"`
		Area   string            `json:"area"`
		Detail map[string]string `json:"detail"`
	} `json:"entries"`
}

// TestReportDownloadsAreAudited: every compliance report the API hands
// over — JSON, a CSV list, the XLSX workbook — leaves an export entry
// naming the user, the area, the format and the sha256 and size of the
// very bytes received; a refused request leaves none.
func TestReportDownloadsAreAudited(t *testing.T) {
	ts := startReportServer(t)
	tok := ts.login("county", testPassword)
	type download struct{ query, format, list string }
	downloads := []download{
		{"area=340199001&period=2026-02", "json", ""},
		{"area=340199001&period=2026-02&format=csv&list=visit_overdue", "csv", "visit_overdue"},
		{"area=340199001&period=2026-02&format=xlsx", "xlsx", ""},
	}
	var bodies [][]byte
	for _, d := range downloads {
		r := ts.do("GET", "/v1/reports/compliance?"+d.query, tok, nil)
		if r.status != 200 {
			t.Fatalf("%s: %s", d.query, r)
		}
		bodies = append(bodies, r.body)
	}
	if r := ts.do("GET", "/v1/reports/compliance?area=340299&period=2026-02", tok, nil); r.status != 403 {
		t.Fatalf("report beyond scope: %s", r)
	}
	var trail auditTrail
	ts.mustJSON("GET", "/v1/audit?area=340199001", ts.as("auditor").login, nil, 200, &trail)
	var exports []int
	for i, e := range trail.Entries {
		if e.Kind == "export" {
			exports = append(exports, i)
		}
	}
	if len(exports) != len(downloads) {
		t.Fatalf("%d export entries, want %d: %+v", len(exports), len(downloads), trail.Entries)
	}
	for i, d := range downloads {
		e := trail.Entries[exports[len(exports)-1-i]] // newest first
		sum := sha256.Sum256(bodies[i])
		if e.Actor != "county" || e.Area != "340199001" || e.Detail["what"] != "compliance_report" ||
			e.Detail["format"] != d.format || e.Detail["list"] != d.list || e.Detail["period"] != "2026-02" ||
			e.Detail["via"] != "api" || e.Detail["sha256"] != hex.EncodeToString(sum[:]) ||
			e.Detail["bytes"] != strconv.Itoa(len(bodies[i])) {
			t.Errorf("%s: entry %+v", d.query, e)
		}
	}
}

// TestImportIsAuditedOverHTTP: a register import over the API leaves an
// import entry with its counts, under the importer's scope.
func TestImportIsAuditedOverHTTP(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	r, a := ts.importRegister(ts.login("township", testPassword), register(t, importer.ExampleRows(areaV1, 2)))
	if r.status != 200 || a.Imported != 2 {
		t.Fatalf("import: %s", r)
	}
	var trail auditTrail
	ts.mustJSON("GET", "/v1/audit?area=340199001", ts.as("auditor").login, nil, 200, &trail)
	for _, e := range trail.Entries {
		if e.Kind == "import" && e.Detail["what"] == "households" {
			if e.Actor != "township" || e.Area != "340199001" || e.Detail["imported"] != "2" {
				t.Errorf("import entry %+v", e)
			}
			return
		}
	}
	t.Fatalf("no import entry in %+v", trail.Entries)
}
