package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
)

// TestHousingCaseEvidence judges cases both ways: complete with before and
// after photos uploaded, the after later and near, and a valid acceptance
// by the household head; and each gap on its own. The compliance report
// agrees with the case endpoint, and an edit after the acceptance makes
// the case incomplete again.
func TestHousingCaseEvidence(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	if a := ts.reg.Policy("housing_cases").Annotations; len(a) != 0 {
		t.Fatalf("housing cases have annotation fields %v: the report's signature check assumes none", a)
	}
	tablet, priv := ts.enrollWithKey("wang")
	here := map[string]any{"lat": 31.7, "lon": 117.1}
	near := map[string]any{"lat": 31.7003, "lon": 117.1} // ~33 m
	far := map[string]any{"lat": 31.7045, "lon": 117.1}  // ~500 m
	type photoSpec struct {
		stage, at string
		gps       map[string]any
		upload    bool
	}
	before := photoSpec{"before", "2026-01-10T10:00:00+08:00", here, true}
	after := photoSpec{"after", "2026-02-20T10:00:00+08:00", near, true}
	scenarios := []struct {
		name    string
		photos  []photoSpec
		sign    string // "", "household_head" or another role
		purpose string
		want    []string
	}{
		{"complete", []photoSpec{before, after}, "household_head", "acceptance", nil},
		{"no photos, no signature", nil, "", "", []string{server.MissingBeforePhoto, server.MissingAfterPhoto, server.MissingAcceptance}},
		{"after photo not uploaded", []photoSpec{before, {"after", after.at, near, false}}, "household_head", "acceptance", []string{server.MissingAfterUpload}},
		{"after earlier than before", []photoSpec{before, {"after", "2026-01-01T10:00:00+08:00", near, true}}, "household_head", "acceptance", []string{server.MissingAfterLater}},
		{"far apart", []photoSpec{before, {"after", after.at, far, true}}, "household_head", "acceptance", []string{server.MissingPhotosFarApart}},
		{"no positions", []photoSpec{{"before", before.at, nil, true}, {"after", after.at, nil, true}}, "household_head", "acceptance", []string{server.MissingPhotoPlace}},
		{"signed by the officer", []photoSpec{before, after}, "officer", "acceptance", []string{server.MissingAcceptance}},
		{"signed for a visit", []photoSpec{before, after}, "household_head", "visit", []string{server.MissingAcceptance}},
	}
	seed := uint64(100)
	for i, sc := range scenarios {
		caseID := fmt.Sprintf("hc%d", i)
		ts.mustAck(tablet, ts.op(tablet, "op-"+caseID, "housing_cases", caseID, areaV1, map[string]any{"household_id": "hV1a", "grade": "C"}))
		for j, p := range sc.photos {
			seed++
			data := housePhoto(t, 160, 120, seed)
			set := map[string]any{"blob_sha256": sha256Hex(data), "case_id": caseID, "household_id": "hV1a", "stage": p.stage, "captured_at": p.at}
			if p.gps != nil {
				set["gps"] = p.gps
			}
			id := fmt.Sprintf("%s-p%d", caseID, j)
			ts.mustAck(tablet, ts.op(tablet, "op-"+id, "photos", id, areaV1, set))
			if p.upload {
				ts.upload(tablet, data, "photos", id, areaV1)
			}
		}
		if sc.sign != "" {
			content := ts.record(tablet.access, "housing_cases", caseID).Record.Fields
			ts.mustAck(tablet, ts.op(tablet, "op-sig-"+caseID, "signatures", "sig-"+caseID, areaV1,
				signFields(t, priv, tablet.device, "housing_cases", caseID, content, sc.sign, sc.purpose)))
		}
		var got struct {
			CaseID   string   `json:"case_id"`
			Complete bool     `json:"complete"`
			Missing  []string `json:"missing"`
		}
		ts.mustJSON("GET", "/v1/housing_cases/"+caseID+"/evidence", tablet.access, nil, 200, &got)
		want := sc.want
		if want == nil {
			want = []string{}
		}
		if got.CaseID != caseID || got.Complete != (len(sc.want) == 0) || !slices.Equal(got.Missing, want) {
			t.Errorf("%s: %+v, want missing %v", sc.name, got, want)
		}
		if hv := ts.record(tablet.access, "housing_cases", caseID).HousingEvidence; hv == nil || hv.Complete != got.Complete || !slices.Equal(hv.Missing, got.Missing) {
			t.Errorf("%s: record view says %+v, the endpoint %+v", sc.name, hv, got)
		}
	}

	gaps := func() map[string][]string {
		rep := getReport(t, ts, ts.as("township").login, "area="+areaV1+"&period=2026-02")
		out := map[string][]string{}
		for _, f := range rep.Lists.HousingGaps {
			out[f.CaseID] = f.Missing
		}
		return out
	}
	g := gaps()
	if _, listed := g["hc0"]; listed || len(g) != len(scenarios)-1 {
		t.Errorf("report gaps %v: every case but hc0 should be listed", g)
	}
	if !slices.Equal(g["hc3"], []string{server.MissingAfterLater}) {
		t.Errorf("report gaps of hc3 %v", g["hc3"])
	}

	// Editing the accepted case after the signature makes it stale.
	ts.mustAck(tablet, ts.op(tablet, "op-hc0-edit", "housing_cases", "hc0", areaV1, map[string]any{"subsidy_yuan": 20000}))
	if g := gaps(); !slices.Equal(g["hc0"], []string{server.MissingAcceptanceStale}) {
		t.Errorf("after the edit the report shows hc0 as %v", g["hc0"])
	}
	ts.expectError(ts.do("GET", "/v1/housing_cases/nope/evidence", tablet.access, nil), 404, "ENOTFOUND")
}
