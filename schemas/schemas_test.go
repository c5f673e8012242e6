package schemas_test

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

func TestFullRecordsAreAccepted(t *testing.T) {
	r := newRegistry(t)
	if got, want := r.Collections(), slices.Sorted(func(yield func(string) bool) {
		for k := range fullRecords {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, want) {
		t.Fatalf("Collections() = %v, test has full records for %v", got, want)
	}
	for _, c := range r.Collections() {
		t.Run(c, func(t *testing.T) {
			rec := full(t, c)
			for _, f := range r.Fields(c) {
				if _, ok := rec[f]; !ok {
					t.Errorf("full record lacks field %q", f)
				}
			}
			if err := r.ValidateRecord(c, rec); err != nil {
				t.Errorf("ValidateRecord: %v", err)
			}
			if err := r.ValidatePatch(c, rec); err != nil {
				t.Errorf("ValidatePatch: %v", err)
			}
		})
	}
}

// fieldCase is one refused input: what is sent and which field must be
// named, with which sentinel.
type fieldCase struct {
	name       string
	collection string
	set        map[string]string // applied to the collection's full record
	wantField  string
	wantErr    error
}

func TestRefusedValues(t *testing.T) {
	r := newRegistry(t)
	tests := []fieldCase{
		// unknown fields: area code is carried by the sync layer, never a field
		{"area code is not a field", "households", map[string]string{"area_code": `"341524105201"`}, "area_code", schemas.ErrUnknownField},
		{"unknown visit field", "visits", map[string]string{"weather": `"晴"`}, "weather", schemas.ErrUnknownField},
		{"camelCase spelling", "members", map[string]string{"idNumber": `"34152219850312451X"`}, "idNumber", schemas.ErrUnknownField},
		{"unknown nested gps field", "checkins", map[string]string{"gps": `{"lat":31,"lon":115,"alt":20}`}, "gps", schemas.ErrInvalidValue},
		{"unknown checklist item", "visits", map[string]string{"checklist": `{"food":"ok","clothing":"ok","education":"ok","medical":"ok","housing":"ok","drinking_water":"ok","tv":"ok"}`}, "checklist", schemas.ErrInvalidValue},
		{"unknown stroke point field", "signatures", map[string]string{"strokes": `[[{"x":1,"y":2,"t":3,"p":0.5}]]`}, "strokes", schemas.ErrInvalidValue},

		// wrong type, one per kind of field
		{"string gets number", "households", map[string]string{"head_name": `42`}, "head_name", schemas.ErrInvalidValue},
		{"string gets null", "households", map[string]string{"address": `null`}, "address", schemas.ErrInvalidValue},
		{"integer gets fraction", "households", map[string]string{"member_count": `2.5`}, "member_count", schemas.ErrInvalidValue},
		{"integer gets string", "households", map[string]string{"member_count": `"4"`}, "member_count", schemas.ErrInvalidValue},
		{"number gets string", "households", map[string]string{"income_per_capita": `"9850"`}, "income_per_capita", schemas.ErrInvalidValue},
		{"boolean gets string", "members", map[string]string{"insured": `"true"`}, "insured", schemas.ErrInvalidValue},
		{"boolean gets number", "assignments", map[string]string{"active": `1`}, "active", schemas.ErrInvalidValue},
		{"array gets string", "households", map[string]string{"flags": `"dibao"`}, "flags", schemas.ErrInvalidValue},
		{"object gets array", "households", map[string]string{"status": `["exited",2019]`}, "status", schemas.ErrInvalidValue},
		{"gps gets string", "visits", map[string]string{"gps": `"31.6,115.9"`}, "gps", schemas.ErrInvalidValue},
		{"gps lat gets string", "visits", map[string]string{"gps": `{"lat":"31.6","lon":115.9}`}, "gps", schemas.ErrInvalidValue},
		{"id gets number", "members", map[string]string{"household_id": `1001`}, "household_id", schemas.ErrInvalidValue},
		{"milestones item gets string", "housing_cases", map[string]string{"milestones": `["开工"]`}, "milestones", schemas.ErrInvalidValue},
		{"stroke point gets array", "signatures", map[string]string{"strokes": `[[[1,2,3]]]`}, "strokes", schemas.ErrInvalidValue},
		{"members gets string", "teams", map[string]string{"members": `"li.fang"`}, "members", schemas.ErrInvalidValue},
		{"malformed JSON", "visits", map[string]string{"notes": `"unterminated`}, "notes", schemas.ErrInvalidValue},
		{"huge exponent (big.Rat DoS)", "households", map[string]string{"member_count": `1.5e999999`}, "member_count", schemas.ErrInvalidValue},
		{"huge exponent in gps", "visits", map[string]string{"gps": `{"lat":1e-999999,"lon":0}`}, "gps", schemas.ErrInvalidValue},
		{"field over 1 MiB", "signatures", map[string]string{"strokes": "[" + strings.Repeat(`[{"x":1,"y":2,"t":3}],`, 60000) + "[]]"}, "strokes", schemas.ErrInvalidValue},
		{"too many strokes", "signatures", map[string]string{"strokes": "[" + strings.Repeat(`[],`, 200) + "[]]"}, "strokes", schemas.ErrInvalidValue},
		{"trailing data", "visits", map[string]string{"notes": `"a" "b"`}, "notes", schemas.ErrInvalidValue},

		// bad enums
		{"status value", "households", map[string]string{"status": `{"value":"rich","year":2019}`}, "status", schemas.ErrInvalidValue},
		{"status without value", "households", map[string]string{"status": `{"year":2019}`}, "status", schemas.ErrInvalidValue},
		{"status year too early", "households", map[string]string{"status": `{"value":"poor","year":2012}`}, "status", schemas.ErrInvalidValue},
		{"flag", "households", map[string]string{"flags": `["xiaokang"]`}, "flags", schemas.ErrInvalidValue},
		{"duplicate flag", "households", map[string]string{"flags": `["dibao","dibao"]`}, "flags", schemas.ErrInvalidValue},
		{"primary cause", "households", map[string]string{"primary_cause": `"laziness"`}, "primary_cause", schemas.ErrInvalidValue},
		{"housing grade", "households", map[string]string{"housing_grade": `"E"`}, "housing_grade", schemas.ErrInvalidValue},
		{"relation", "members", map[string]string{"relation": `"cousin"`}, "relation", schemas.ErrInvalidValue},
		{"gender", "members", map[string]string{"gender": `"m"`}, "gender", schemas.ErrInvalidValue},
		{"labour status in Chinese", "members", map[string]string{"labour_status": `"普通劳动力"`}, "labour_status", schemas.ErrInvalidValue},
		{"checklist item", "visits", map[string]string{"checklist": `{"food":"good","clothing":"ok","education":"ok","medical":"ok","housing":"ok","drinking_water":"ok"}`}, "checklist", schemas.ErrInvalidValue},
		{"review status", "visits", map[string]string{"review_status": `"approved"`}, "review_status", schemas.ErrInvalidValue},
		{"photo stage", "photos", map[string]string{"stage": `"later"`}, "stage", schemas.ErrInvalidValue},
		{"case grade B", "housing_cases", map[string]string{"grade": `"B"`}, "grade", schemas.ErrInvalidValue},
		{"build mode in Chinese", "housing_cases", map[string]string{"build_mode": `"自建"`}, "build_mode", schemas.ErrInvalidValue},
		{"signer role", "signatures", map[string]string{"signer_role": `"mayor"`}, "signer_role", schemas.ErrInvalidValue},
		{"signed collection", "signatures", map[string]string{"signed_collection": `"signatures"`}, "signed_collection", schemas.ErrInvalidValue},
		{"purpose", "signatures", map[string]string{"purpose": `"fun"`}, "purpose", schemas.ErrInvalidValue},
		{"duty kind", "duty_days", map[string]string{"kind": `"holiday"`}, "kind", schemas.ErrInvalidValue},
		{"four ones kind", "team_duties", map[string]string{"kind": `"meeting"`}, "kind", schemas.ErrInvalidValue},
		{"four ones on 9月31日", "team_duties", map[string]string{"date": `"2025-09-31"`}, "date", schemas.ErrInvalidValue},
		{"doctor package code", "doctor_contracts", map[string]string{"package": `"基础包"`}, "package", schemas.ErrInvalidValue},
		{"contract end 2月30日", "doctor_contracts", map[string]string{"end_date": `"2026-02-30"`}, "end_date", schemas.ErrInvalidValue},
		{"doctor visit time not date", "doctor_visits", map[string]string{"date": `"2025-11-07T09:00:00+08:00"`}, "date", schemas.ErrInvalidValue},
		{"doctor without name", "doctor_visits", map[string]string{"doctor": `""`}, "doctor", schemas.ErrInvalidValue},

		// bad sha256
		{"uppercase sha256", "photos", map[string]string{"blob_sha256": quote(strings.ToUpper("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))}, "blob_sha256", schemas.ErrInvalidValue},
		{"short sha256", "signatures", map[string]string{"signed_content_sha256": quote(strings.Repeat("a", 63))}, "signed_content_sha256", schemas.ErrInvalidValue},
		{"non-hex sha256", "signatures", map[string]string{"image_sha256": quote(strings.Repeat("g", 64))}, "image_sha256", schemas.ErrInvalidValue},
		{"bad sha256 in list", "visits", map[string]string{"photo_sha256s": `["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","abc"]`}, "photo_sha256s", schemas.ErrInvalidValue},
		{"duplicate sha256 in list", "housing_cases", map[string]string{"photo_sha256s": `["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]`}, "photo_sha256s", schemas.ErrInvalidValue},

		// bad dates and times
		{"September 31st", "members", map[string]string{"birth_date": `"2025-09-31"`}, "birth_date", schemas.ErrInvalidValue},
		{"slashed date", "assignments", map[string]string{"start_date": `"2024/03/01"`}, "start_date", schemas.ErrInvalidValue},
		{"Chinese date", "duty_days", map[string]string{"date": `"2025年11月5日"`}, "date", schemas.ErrInvalidValue},
		{"milestone date", "housing_cases", map[string]string{"milestones": `[{"name":"开工","date":"2025-02-30"}]`}, "milestones", schemas.ErrInvalidValue},
		{"date-time without offset", "visits", map[string]string{"visited_at": `"2025-11-03T09:41:00"`}, "visited_at", schemas.ErrInvalidValue},
		{"date-time month 13", "checkins", map[string]string{"at": `"2025-13-03T08:02:11+08:00"`}, "at", schemas.ErrInvalidValue},
		{"date for date-time", "photos", map[string]string{"captured_at": `"2025-10-20"`}, "captured_at", schemas.ErrInvalidValue},
		{"unix time for date-time", "signatures", map[string]string{"signed_at": `1762134000`}, "signed_at", schemas.ErrInvalidValue},

		// patterns and ranges
		{"11-digit village code", "checkins", map[string]string{"village_code": `"34152410520"`}, "village_code", schemas.ErrInvalidValue},
		{"township code 12 digits", "villages", map[string]string{"township_code": `"341524105201"`}, "township_code", schemas.ErrInvalidValue},
		{"lowercase x in id number", "members", map[string]string{"id_number": `"34152219850312451x"`}, "id_number", schemas.ErrInvalidValue},
		{"15-digit old id number", "members", map[string]string{"id_number": `"341522850312451"`}, "id_number", schemas.ErrInvalidValue},
		{"latitude over 90", "visits", map[string]string{"gps": `{"lat":91,"lon":115.9}`}, "gps", schemas.ErrInvalidValue},
		{"longitude under -180", "photos", map[string]string{"gps": `{"lat":31,"lon":-180.5}`}, "gps", schemas.ErrInvalidValue},
		{"negative accuracy", "checkins", map[string]string{"gps": `{"lat":31,"lon":115,"accuracy_m":-1}`}, "gps", schemas.ErrInvalidValue},
		{"gps without lon", "villages", map[string]string{"center": `{"lat":31}`}, "center", schemas.ErrInvalidValue},
		{"zero geofence", "villages", map[string]string{"geofence_m": `0`}, "geofence_m", schemas.ErrInvalidValue},
		{"negative income", "households", map[string]string{"income_per_capita": `-1`}, "income_per_capita", schemas.ErrInvalidValue},
		{"zero members", "households", map[string]string{"member_count": `0`}, "member_count", schemas.ErrInvalidValue},
		{"negative subsidy", "housing_cases", map[string]string{"subsidy_yuan": `-20000`}, "subsidy_yuan", schemas.ErrInvalidValue},
		{"income year shape", "households", map[string]string{"income_year": `"2025"`}, "income_year", schemas.ErrInvalidValue},
		{"visit notes over 4000", "visits", map[string]string{"notes": longNote}, "notes", schemas.ErrInvalidValue},
		{"empty head name", "households", map[string]string{"head_name": `""`}, "head_name", schemas.ErrInvalidValue},
		{"username with space", "assignments", map[string]string{"officer": `"wang lei"`}, "officer", schemas.ErrInvalidValue},
		{"empty team", "teams", map[string]string{"members": `[]`}, "members", schemas.ErrInvalidValue},
		{"stroke point without t", "signatures", map[string]string{"strokes": `[[{"x":1,"y":2}]]`}, "strokes", schemas.ErrInvalidValue},
		{"device signature not base64", "signatures", map[string]string{"device_signature": `"not base64!"`}, "device_signature", schemas.ErrInvalidValue},
		{"three secondary causes", "households", map[string]string{"secondary_causes": `["lack_labour","lack_funds","transport"]`}, "secondary_causes", schemas.ErrInvalidValue},
		{"duplicate secondary causes", "households", map[string]string{"secondary_causes": `["lack_funds","lack_funds"]`}, "secondary_causes", schemas.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.collection+"/"+tc.name, func(t *testing.T) {
			rec := edit(full(t, tc.collection), tc.set)
			onlySet := edit(map[string]json.RawMessage{}, tc.set)
			for _, check := range []struct {
				name   string
				fields map[string]json.RawMessage
				run    func(string, map[string]json.RawMessage) error
			}{
				{"ValidatePatch(changed fields)", onlySet, r.ValidatePatch},
				{"ValidatePatch(whole record)", rec, r.ValidatePatch},
				{"ValidateRecord", rec, r.ValidateRecord},
			} {
				assertFieldError(t, check.name, check.run(tc.collection, check.fields), tc.collection, tc.wantField, tc.wantErr)
			}
		})
	}
}

func assertFieldError(t *testing.T, what string, err error, collection, field string, want error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted, want refusal of %q", what, field)
		return
	}
	var fe *schemas.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%s: error %T %v is not a *FieldError", what, err, err)
		return
	}
	if fe.Collection != collection || fe.Field != field || !errors.Is(err, want) {
		t.Errorf("%s: got %+v (%v), want collection %q field %q wrapping %v", what, fe, err, collection, field, want)
	}
	if fe.Reason == "" {
		t.Errorf("%s: empty Reason", what)
	}
}

func TestValidateRecordRequiresFields(t *testing.T) {
	r := newRegistry(t)
	for _, c := range r.Collections() {
		required, ok := requiredFields[c]
		if !ok {
			t.Fatalf("test lists no required fields for %s", c)
		}
		for _, field := range required {
			t.Run(c+"/"+field, func(t *testing.T) {
				rec := edit(full(t, c), map[string]string{field: ""})
				assertFieldError(t, "ValidateRecord", r.ValidateRecord(c, rec), c, field, schemas.ErrMissingField)
				if err := r.ValidatePatch(c, rec); err != nil {
					t.Errorf("ValidatePatch must not enforce required fields: %v", err)
				}
			})
		}
	}
}

func TestCrossFieldRules(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		name       string
		collection string
		patch      bool // ValidatePatch with only set; otherwise ValidateRecord of the edited full record
		set        map[string]string
		wantField  string // "" means accepted
		wantErr    error
	}{
		{"primary and two different secondaries", "households", false, map[string]string{"primary_cause": `"disability"`, "secondary_causes": `["education","lack_skills"]`}, "", nil},
		{"primary and no secondary", "households", false, map[string]string{"secondary_causes": ""}, "", nil},
		{"primary and empty secondaries", "households", false, map[string]string{"secondary_causes": `[]`}, "", nil},
		{"secondaries without primary", "households", false, map[string]string{"primary_cause": ""}, "primary_cause", schemas.ErrMissingField},
		{"secondary repeats primary", "households", false, map[string]string{"primary_cause": `"illness"`, "secondary_causes": `["lack_funds","illness"]`}, "secondary_causes", schemas.ErrInvalidValue},
		{"patch: secondary repeats primary", "households", true, map[string]string{"primary_cause": `"illness"`, "secondary_causes": `["illness"]`}, "secondary_causes", schemas.ErrInvalidValue},
		{"patch: secondaries alone", "households", true, map[string]string{"secondary_causes": `["illness"]`}, "", nil},
		{"patch: three secondaries", "households", true, map[string]string{"secondary_causes": `["illness","education","transport"]`}, "secondary_causes", schemas.ErrInvalidValue},
		{"income year consecutive", "households", true, map[string]string{"income_year": `"2019-2020"`}, "", nil},
		{"income year gap", "households", true, map[string]string{"income_year": `"2025-2027"`}, "income_year", schemas.ErrInvalidValue},
		{"income year backwards", "households", false, map[string]string{"income_year": `"2026-2025"`}, "income_year", schemas.ErrInvalidValue},
		{"assignment ends same day", "assignments", false, map[string]string{"start_date": `"2024-03-01"`, "end_date": `"2024-03-01"`}, "", nil},
		{"assignment ends before start", "assignments", false, map[string]string{"end_date": `"2024-02-29"`}, "end_date", schemas.ErrInvalidValue},
		{"patch: assignment end alone", "assignments", true, map[string]string{"end_date": `"2001-01-01"`}, "", nil},
		{"patch: assignment ends before start", "assignments", true, map[string]string{"start_date": `"2024-03-01"`, "end_date": `"2023-03-01"`}, "end_date", schemas.ErrInvalidValue},
		{"village in another township", "villages", false, map[string]string{"township_code": `"341524106"`}, "township_code", schemas.ErrInvalidValue},
		{"village without township", "villages", false, map[string]string{"township_code": ""}, "", nil},
		{"patch: village code and township agree", "villages", true, map[string]string{"code": `"341524106201"`, "township_code": `"341524106"`}, "", nil},
		{"photo of a case only", "photos", false, map[string]string{"household_id": ""}, "", nil},
		{"photo of a household only", "photos", false, map[string]string{"case_id": ""}, "", nil},
		{"photo of nothing", "photos", false, map[string]string{"case_id": "", "household_id": ""}, "case_id", schemas.ErrMissingField},
		{"approval time without approver", "duty_days", false, map[string]string{"approved_by": ""}, "approved_by", schemas.ErrMissingField},
		{"unapproved duty day", "duty_days", false, map[string]string{"approved_by": "", "approved_at": ""}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.collection+"/"+tc.name, func(t *testing.T) {
			var err error
			if tc.patch {
				err = r.ValidatePatch(tc.collection, edit(map[string]json.RawMessage{}, tc.set))
			} else {
				err = r.ValidateRecord(tc.collection, edit(full(t, tc.collection), tc.set))
			}
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			assertFieldError(t, "validate", err, tc.collection, tc.wantField, tc.wantErr)
		})
	}
}

func TestUnknownCollection(t *testing.T) {
	r := newRegistry(t)
	for _, name := range []string{"", "household", "Visits", "signatures.v1", "../visits"} {
		if r.Known(name) {
			t.Errorf("Known(%q) = true", name)
		}
		if p := r.Policy(name); p.AppendOnly || p.Annotations != nil || p.CitesBlobs != nil || p.PII != nil {
			t.Errorf("Policy(%q) = %+v, want zero", name, p)
		}
		if f := r.Fields(name); f != nil {
			t.Errorf("Fields(%q) = %v, want nil", name, f)
		}
		for what, err := range map[string]error{
			"ValidatePatch":  r.ValidatePatch(name, patch("notes", `"x"`)),
			"ValidateRecord": r.ValidateRecord(name, patch()),
		} {
			assertFieldError(t, what, err, name, "", schemas.ErrUnknownCollection)
		}
		if _, err := r.CitedBlobs(name, nil); !errors.Is(err, schemas.ErrUnknownCollection) {
			t.Errorf("CitedBlobs(%q): %v, want ErrUnknownCollection", name, err)
		}
	}
	for _, c := range r.Collections() {
		if !r.Known(c) {
			t.Errorf("Known(%q) = false", c)
		}
		if r.Version(c) != 1 {
			t.Errorf("Version(%q) = %d, want 1", c, r.Version(c))
		}
	}
}

func TestPolicies(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		collection string
		want       schemas.CollectionPolicy
	}{
		{"visits", schemas.CollectionPolicy{AppendOnly: true, Annotations: []string{"review_status", "review_note", "review_state", "review_comment", "reviewed_by", "reviewed_at"}, CitesBlobs: []string{"photo_sha256s"}, PII: []string{"answered_by_name"}}},
		{"checkins", schemas.CollectionPolicy{AppendOnly: true, Annotations: []string{"review_note", "review_state", "review_comment", "reviewed_by", "reviewed_at"}}},
		{"photos", schemas.CollectionPolicy{AppendOnly: true, Annotations: []string{"review_note", "review_state", "review_comment", "reviewed_by", "reviewed_at"}, CitesBlobs: []string{"blob_sha256"}}},
		{"signatures", schemas.CollectionPolicy{AppendOnly: true, CitesBlobs: []string{"image_sha256"}}},
		{"housing_cases", schemas.CollectionPolicy{CitesBlobs: []string{"photo_sha256s"}}},
		{"members", schemas.CollectionPolicy{PII: []string{"name", "id_number"}}},
		{"households", schemas.CollectionPolicy{PII: []string{"head_name", "address", "phone"}}},
		{"assignments", schemas.CollectionPolicy{}},
		{"villages", schemas.CollectionPolicy{}},
		{"teams", schemas.CollectionPolicy{}},
		{"duty_days", schemas.CollectionPolicy{}},
		{"team_duties", schemas.CollectionPolicy{AppendOnly: true, Annotations: []string{"note"}, CitesBlobs: []string{"evidence_sha256s"}}},
		{"doctor_contracts", schemas.CollectionPolicy{}},
		{"doctor_visits", schemas.CollectionPolicy{AppendOnly: true, Annotations: []string{"note"}}},
		{"income_surveys", schemas.CollectionPolicy{}},
		{"exit_cases", schemas.CollectionPolicy{}},
		{"exit_steps", schemas.CollectionPolicy{AppendOnly: true, CitesBlobs: []string{"notice_photo_sha256", "photo_sha256s"}}},
		{"ledger_items", schemas.CollectionPolicy{CitesBlobs: []string{"evidence_sha256s"}}},
	}
	if len(tests) != len(r.Collections()) {
		t.Fatalf("test covers %d collections, registry has %d", len(tests), len(r.Collections()))
	}
	for _, tc := range tests {
		got := r.Policy(tc.collection)
		if got.AppendOnly != tc.want.AppendOnly || !slices.Equal(got.Annotations, tc.want.Annotations) ||
			!slices.Equal(got.CitesBlobs, tc.want.CitesBlobs) || !slices.Equal(got.PII, tc.want.PII) {
			t.Errorf("Policy(%s) = %+v, want %+v", tc.collection, got, tc.want)
		}
	}

	visits := r.Policy("visits")
	for field, want := range map[string]bool{"review_note": true, "review_status": true, "notes": false, "checklist": false, "photo_sha256s": false} {
		if got := visits.MaySetAfterCreate(field); got != want {
			t.Errorf("visits MaySetAfterCreate(%s) = %v, want %v", field, got, want)
		}
	}
	if !r.Policy("households").MaySetAfterCreate("head_name") {
		t.Error("households head_name must stay editable")
	}
	visits.Annotations[0] = "notes"
	if r.Policy("visits").MaySetAfterCreate("notes") {
		t.Error("changing a returned policy changed the registry")
	}
}

func TestCitedBlobs(t *testing.T) {
	r := newRegistry(t)
	const a, b = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	tests := []struct {
		collection string
		fields     map[string]json.RawMessage
		want       []string
	}{
		{"visits", full(t, "visits"), []string{b, a}},
		{"photos", full(t, "photos"), []string{a}},
		{"signatures", full(t, "signatures"), []string{"fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"}},
		{"housing_cases", patch("photo_sha256s", `["`+a+`","`+b+`","`+a+`"]`), []string{b, a}},
		{"visits", patch("notes", `"无照片"`), nil},
		{"households", full(t, "households"), nil},
	}
	for _, tc := range tests {
		got, err := r.CitedBlobs(tc.collection, tc.fields)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("CitedBlobs(%s) = %v, %v; want %v", tc.collection, got, err, tc.want)
		}
	}
	if _, err := r.CitedBlobs("photos", patch("blob_sha256", `42`)); !errors.Is(err, schemas.ErrInvalidValue) {
		t.Errorf("CitedBlobs with a number: %v, want ErrInvalidValue", err)
	}
}

// Map iteration order is random; the reported field must not be.
func TestFirstOffendingFieldIsStable(t *testing.T) {
	r := newRegistry(t)
	bad := patch(
		"visited_at", `"yesterday"`,
		"gps", `{"lat":"x","lon":500}`,
		"officer", `7`,
		"notes", `1`,
		"checklist", `[]`,
	)
	for range 50 {
		assertFieldError(t, "ValidatePatch", r.ValidatePatch("visits", bad), "visits", "checklist", schemas.ErrInvalidValue)
	}
	var fe *schemas.FieldError
	if err := r.ValidatePatch("visits", bad); errors.As(err, &fe) && fe.Reason != "want object, got array" {
		t.Errorf("Reason = %q", fe.Reason)
	}
	for range 20 {
		err := r.ValidatePatch("visits", patch("gps", `{"lat":"x","lon":500}`))
		if !errors.As(err, &fe) || fe.Reason != "lat: want number, got string" {
			t.Fatalf("gps reason: %v", err)
		}
	}
	// Unknown fields are reported before bad values.
	assertFieldError(t, "ValidatePatch", r.ValidatePatch("visits", patch("aaa_bad", `1`, "zzz", `1`, "notes", `1`)), "visits", "aaa_bad", schemas.ErrUnknownField)
	// Several missing fields: the alphabetically first.
	for range 20 {
		assertFieldError(t, "ValidateRecord", r.ValidateRecord("visits", patch("notes", `"只有备注"`)), "visits", "checklist", schemas.ErrMissingField)
	}
}

func TestReasonsDoNotEchoValues(t *testing.T) {
	r := newRegistry(t)
	const secret = "34152219850312451y"
	err := r.ValidatePatch("members", patch("id_number", quote(secret)))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v must refuse without echoing the ID number", err)
	}
	err = r.ValidatePatch("members", patch("birth_date", `"1985-02-30"`))
	if err == nil || strings.Contains(err.Error(), "1985") {
		t.Fatalf("error %v must refuse without echoing the date", err)
	}
}

func TestFieldErrorText(t *testing.T) {
	r := newRegistry(t)
	err := r.ValidatePatch("households", patch("housing_grade", `"E"`))
	if got, want := err.Error(), "households.housing_grade: must be one of A, B, C, D"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = r.ValidatePatch("farms", nil)
	if got, want := err.Error(), "farms: unknown collection"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// The signatures schema lists the collections a signature may cite; it must
// stay in step with the shipped collections.
func TestSignedCollectionsAreKnown(t *testing.T) {
	r := newRegistry(t)
	raw, err := os.ReadFile("json/signatures.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			SignedCollection struct {
				Enum []string `json:"enum"`
			} `json:"signed_collection"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(r.Collections(), func(c string) bool { return c == "signatures" })
	if got := slices.Sorted(slices.Values(doc.Properties.SignedCollection.Enum)); !slices.Equal(got, want) {
		t.Errorf("signed_collection enum = %v, want %v", got, want)
	}
}

// One Registry is shared by every request handler.
func TestConcurrentUse(t *testing.T) {
	r := newRegistry(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				c := r.Collections()[(g+i)%len(r.Collections())]
				if err := r.ValidateRecord(c, full(t, c)); err != nil {
					t.Errorf("%s: %v", c, err)
					return
				}
				if err := r.ValidatePatch("visits", patch("gps", `{"lat":100,"lon":0}`)); err == nil {
					t.Error("bad gps accepted")
					return
				}
			}
		})
	}
	wg.Wait()
}
