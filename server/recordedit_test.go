package server_test

import (
	"strings"
	"testing"
)

// TestEditRecordReviewAndLedger drives review states and a ledger item
// over POST /v1/records/{collection}/{id} as township and county users who
// have no tablet: each procedure refusal answers with its HTTP status, wire
// code and rules code, and the accepted changes are stored.
func TestEditRecordReviewAndLedger(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	town, county, officer := ts.as("township").login, ts.as("county").login, ts.as("wang").login
	type step struct {
		name, token, path string
		body              map[string]any
		status            int
		code, rulesCode   string
	}
	steps := []step{
		{"officer reviews", officer, "/v1/records/visits/visV1", map[string]any{"set": map[string]any{"review_state": "approved", "reviewed_by": "wang"}},
			403, "EFORBIDDEN", ""},
		{"has issues without comment", town, "/v1/records/visits/visV1", map[string]any{"set": map[string]any{"review_state": "has_issues", "reviewed_by": "township"}},
			400, "EINVALID", "review_comment_missing"},
		{"township has issues", town, "/v1/records/visits/visV1", map[string]any{"set": map[string]any{"review_state": "has_issues", "review_comment": "缺少签字", "reviewed_by": "township"}},
			200, "", ""},
		{"county approves", county, "/v1/records/visits/visV1", map[string]any{"set": map[string]any{"review_state": "approved", "review_comment": "已补签", "reviewed_by": "county"}},
			200, "", ""},
		{"unknown record", town, "/v1/records/visits/nosuch", map[string]any{"set": map[string]any{"review_state": "approved"}},
			404, "ENOTFOUND", ""},
		{"open ledger item", town, "/v1/records/ledger_items/L1", map[string]any{"area": areaV1, "set": map[string]any{"source": "inspection", "problem": "走访记录缺签字",
			"responsible_unit": "一乡", "deadline": "2026-03-31", "status": "open", "opened_by": "township", "opened_at": "2026-02-28T10:00:00+08:00"}}, 200, "", ""},
		{"rectify", town, "/v1/records/ledger_items/L1", map[string]any{"set": map[string]any{"status": "rectified", "rectified_by": "township",
			"rectified_at": "2026-03-01T10:00:00+08:00", "measures": "补签", "evidence_record_ids": []string{"visV1"}}}, 200, "", ""},
		{"verified by the rectifier", town, "/v1/records/ledger_items/L1", map[string]any{"set": map[string]any{"status": "verified", "verified_by": "township",
			"verified_at": "2026-03-01T11:00:00+08:00"}}, 400, "EINVALID", "ledger_same_user"},
		{"verified by the county", county, "/v1/records/ledger_items/L1", map[string]any{"set": map[string]any{"status": "verified", "verified_by": "county",
			"verified_at": "2026-03-01T11:00:00+08:00"}}, 200, "", ""},
		{"closed by the county", county, "/v1/records/ledger_items/L1", map[string]any{"set": map[string]any{"status": "closed", "closed_by": "county",
			"closed_at": "2026-03-01T12:00:00+08:00"}}, 200, "", ""},
	}
	for _, s := range steps {
		r := ts.do("POST", s.path, s.token, s.body)
		if r.status != s.status || r.errorCode() != s.code || !strings.Contains(string(r.body), s.rulesCode) {
			t.Errorf("%s: got %s, want %d %s %s", s.name, r, s.status, s.code, s.rulesCode)
		}
	}
	if got := ts.record(town, "visits", "visV1").Record.Fields["review_state"]; string(got) != `"approved"` {
		t.Errorf("visit review state = %s", got)
	}
	if got := ts.record(county, "ledger_items", "L1").Record.Fields["status"]; string(got) != `"closed"` {
		t.Errorf("ledger status = %s", got)
	}
}
