package schemas_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

// FuzzValidatePatch feeds arbitrary JSON objects to every collection's
// validators. They must never panic, and every refusal must be a
// *FieldError naming the collection and, for a patch, one of the fields
// it was given.
func FuzzValidatePatch(f *testing.F) {
	r := newRegistry(f)
	for _, text := range fullRecords {
		f.Add([]byte(text))
	}
	for _, seed := range []string{
		`{}`,
		`{"gps":{"lat":1e400,"lon":-0}}`,
		`{"member_count":1e399,"income_per_capita":-1E-399}`,
		`{"member_count":1.0000000000000000000001,"status":{"value":"poor","year":2013.0}}`,
		`{"strokes":[[{"x":1,"y":2,"t":3}],[]],"device_signature":"===="}`,
		`{"secondary_causes":["illness","illness","illness"],"primary_cause":"illness"}`,
		`{"checklist":{"food":null},"photo_sha256s":[null,1,{}]}`,
		`{"milestones":[{"name":"","date":"0000-00-00"}],"income_year":"9999-10000"}`,
		`{"code":"000000000000","township_code":"999999999","center":{"lat":90,"lon":180,"accuracy_m":0}}`,
		`{"start_date":"2024-01-01","end_date":"2023-12-31","visited_at":"2025-11-03T09:41:00.123456789+08:00"}`,
		`{"head_name":"\u0000","address":"\ud800","notes":"\udc00\ud83d\ude00"}`,
		`{"status":{"value":"exited","year":2019,"\ud800":1},"flags":["dibao\u0000"]}`,
	} {
		f.Add([]byte(seed))
	}
	collections := append(r.Collections(), "unknown")
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			return
		}
		for _, c := range collections {
			checkRefusal(t, c, fields, r.ValidatePatch(c, fields), true)
			checkRefusal(t, c, fields, r.ValidateRecord(c, fields), false)
			if _, err := r.CitedBlobs(c, fields); err != nil {
				checkRefusal(t, c, fields, err, true)
			}
		}
	})
}

func checkRefusal(t *testing.T, collection string, fields map[string]json.RawMessage, err error, fieldGiven bool) {
	t.Helper()
	if err == nil {
		return
	}
	var fe *schemas.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: %T %v is not a *FieldError", collection, err, err)
	}
	if fe.Collection != collection || fe.Reason == "" {
		t.Fatalf("%s: bad FieldError %+v", collection, fe)
	}
	if errors.Is(err, schemas.ErrUnknownCollection) {
		return
	}
	if _, ok := fields[fe.Field]; fieldGiven && !ok {
		t.Fatalf("%s: refusal names field %q that was not in the patch: %v", collection, fe.Field, err)
	}
}
