package server_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/importer"
)

type importAnswer struct {
	Imported  int                 `json:"imported"`
	Unchanged int                 `json:"unchanged"`
	Problems  []importer.RowError `json:"problems"`
}

func register(t *testing.T, rows []importer.Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := importer.WriteRegister(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (ts *testServer) importRegister(token string, body []byte) (response, importAnswer) {
	ts.t.Helper()
	r := ts.do("POST", "/v1/import/households", token, body, "Content-Type", server.MIMEXLSX)
	var a importAnswer
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &a); err != nil {
			ts.t.Fatalf("decode import answer: %v: %s", err, r.body)
		}
	}
	return r, a
}

// TestImportHouseholds: good rows become households and head members,
// every bad row is reported by row, column and code with identity numbers
// masked, rows of villages outside the importer's scope are refused, and
// importing the same file again changes nothing.
func TestImportHouseholds(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	good := importer.ExampleRows(areaV1, 3)
	badChecksum := importer.ExampleRows(areaV1, 4)[3]
	badChecksum.IDNumber = badChecksum.IDNumber[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", badChecksum.IDNumber[17])+1)%11])
	outside := importer.ExampleRows(areaV3, 5)[4] // another township's village
	unknown := importer.ExampleRows("340199001999", 6)[5]
	cause := importer.ExampleRows(areaV2, 7)[6]
	cause.Cause = "因懒"
	rows := append(slices.Clone(good), badChecksum, outside, unknown, cause)
	body := register(t, rows)

	tok := ts.login("township", testPassword)
	seq := ts.lastSeq()
	r, a := ts.importRegister(tok, body)
	if r.status != 200 {
		t.Fatalf("import: %s", r)
	}
	if a.Imported != 3 || a.Unchanged != 0 {
		t.Errorf("imported %d unchanged %d, want 3 and 0", a.Imported, a.Unchanged)
	}
	// Rows 1 and 2 of the sheet are the title and the header.
	type want struct {
		row        int
		column     string
		code       string
		reasonPart string
	}
	wants := []want{
		{6, importer.ColIDNumber, importer.CodeBadIDChecksum, "校验位"},
		{7, importer.ColVillage, importer.CodeUnknownVillage, "不在您的管辖范围内"},
		{8, importer.ColVillage, importer.CodeUnknownVillage, "340199001999"},
		{9, importer.ColCause, server.CodeUnknownCause, "因懒"},
	}
	if len(a.Problems) != len(wants) {
		t.Fatalf("problems %+v, want %d", a.Problems, len(wants))
	}
	for i, w := range wants {
		p := a.Problems[i]
		if p.Row != w.row || p.Column != w.column || p.Code != w.code || !strings.Contains(p.Reason, w.reasonPart) {
			t.Errorf("problem %d = %+v, want %+v", i, p, w)
		}
	}
	for _, row := range rows {
		if bytes.Contains(r.body, []byte(row.IDNumber)) {
			t.Errorf("an identity number appears in full in the answer: %s", r.body)
		}
		if strings.Contains(ts.logs.String(), row.IDNumber) {
			t.Errorf("an identity number appears in full in the log")
		}
	}
	for _, row := range good {
		id := importer.DeriveHouseholdID(areaV1, row.IDNumber)
		hh := ts.storeRecord("households", id)
		if hh == nil || hh.Area != areaV1 || jsonString(hh.Fields["head_name"].Value) != row.HeadName || hh.Fields["head_name"].Author != "township" {
			t.Fatalf("household of %s: %+v", row.HeadName, hh)
		}
		m := ts.storeRecord("members", id+"-1")
		if m == nil || jsonString(m.Fields["id_number"].Value) != row.IDNumber || jsonString(m.Fields["relation"].Value) != "head" {
			t.Fatalf("head member of %s: %+v", row.HeadName, m)
		}
	}
	for _, row := range []importer.Row{outside, unknown, badChecksum, cause} {
		if ts.storeRecord("households", importer.DeriveHouseholdID(row.VillageCode, row.IDNumber)) != nil {
			t.Errorf("refused row of %s was written", row.HeadName)
		}
	}
	if got := ts.lastSeq() - seq; got != 3*4 { // two ops, two records per row
		t.Errorf("store moved %d sequences, want 12", got)
	}

	// The same file again: the same op ids, nothing applied.
	seq = ts.lastSeq()
	_, again := ts.importRegister(tok, body)
	if again.Imported != 0 || again.Unchanged != 3 || len(again.Problems) != 4 || ts.lastSeq() != seq {
		t.Errorf("re-import: %+v, store moved %d", again, ts.lastSeq()-seq)
	}
	first := importer.DeriveHouseholdID(areaV1, good[0].IDNumber)
	if h := ts.record(tok, "households", first).History; len(h) != 1 {
		t.Errorf("history after re-import has %d ops, want 1", len(h))
	}

	// One row edited: only that row is written, as a sequential write.
	edited := slices.Clone(good)
	edited[0].Phone = "13800009999"
	_, third := ts.importRegister(tok, register(t, edited))
	if third.Imported != 1 || third.Unchanged != 2 || len(third.Problems) != 0 {
		t.Errorf("edited import: %+v", third)
	}
	rec := ts.record(tok, "households", first)
	if jsonString(rec.Record.Fields["phone"]) != "13800009999" || len(rec.History) != 2 {
		t.Errorf("after edit: phone %s, %d ops", rec.Record.Fields["phone"], len(rec.History))
	}
	var open struct{ Conflicts []any }
	ts.mustJSON("GET", "/v1/conflicts", tok, nil, 200, &open)
	for _, c := range open.Conflicts {
		if strings.Contains(func() string { b, _ := json.Marshal(c); return string(b) }(), first) {
			t.Errorf("re-import opened a conflict: %v", c)
		}
	}

	// The county may import the other township's row.
	_, county := ts.importRegister(ts.login("county", testPassword), register(t, []importer.Row{outside}))
	if county.Imported != 1 || len(county.Problems) != 0 {
		t.Errorf("county import of %s: %+v", areaV3, county)
	}
}

// TestImportHouseholdsRefusals: roles that may not import, bodies that are
// not registers.
func TestImportHouseholdsRefusals(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	body := register(t, importer.ExampleRows(areaV1, 1))
	for _, user := range []string{"wang", "zhao", "auditor"} {
		r, _ := ts.importRegister(ts.login(user, testPassword), body)
		ts.expectError(r, 403, "EFORBIDDEN")
	}
	tok := ts.login("township", testPassword)
	ts.expectError(ts.do("POST", "/v1/import/households", tok, body), 400, "EINVALID") // JSON content type
	r, _ := ts.importRegister(tok, []byte("not a workbook"))
	ts.expectError(r, 400, "EINVALID")
	r, _ = ts.importRegister(tok, nil)
	ts.expectError(r, 400, "EINVALID")
	var noID bytes.Buffer
	if err := importer.WriteSheet(&noID, []string{importer.ColHeadName, importer.ColVillage}, [][]string{{"张三", areaV1}}); err != nil {
		t.Fatal(err)
	}
	r, _ = ts.importRegister(tok, noID.Bytes())
	ts.expectError(r, 400, "EINVALID")
	if !strings.Contains(string(r.body), importer.ColIDNumber) {
		t.Errorf("missing column not named: %s", r.body)
	}
}
