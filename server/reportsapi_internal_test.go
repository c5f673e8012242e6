package server

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// readerInputs are JSON values for the fast readers: the shapes they take
// and the ones they must hand to encoding/json.
var readerInputs = []string{
	`{"lat":32.3,"lon":118.5,"accuracy_m":8}`, `{"lat":32.3,"lon":118.5}`, `{ "lat": 32.3, "lon": 118.5 }`,
	`{"LAT":32.3,"Lon":118.5,"accuracy_m":8}`, `{"lat":"32.3","lon":118.5}`, `{"lat":1e400,"lon":1}`,
	`{"lat":-0.0,"lon":1E2,"accuracy_m":0.5e1}`, `{"lat":null,"lon":2}`, `{"lat":1,"lon":2,"alt":3}`, `{"lat":01,"lon":2}`,
	`{"lat":1,"lat":2}`, `{"lat":+1}`, `{"lat":.5}`, `{"lat":1.}`, `{"lat":0x10}`, `{"lat":1_0}`, `{"lat":Inf}`, `{"lat":1,}`,
	`{"lat":1`, `{"la\u0074":1}`, `{"lat":1}x`, `[1,2]`, `"x"`, `{}`, ``, `null`,
	`{"value":"exited","year":2018}`, `{"year":2019,"value":"poor"}`, `{"value":"exited"}`,
	`{"value":"exited","year":2018.0}`, `{"value":"ex\u0069ted","year":2017}`, `{"value":"monitored","year":-0}`,
	`{"value":"exited","year":02018}`, `{"value":"exited","year":+2018}`, `{"Value":"exited","YEAR":2016}`,
	`{"value":"","year":2016}`, `{"value":7}`, `{"value":"a,b","year":1}`, `{"value":"a\"b","year":1}`,
	`{"value":"exited","year":99999999999999999999}`, `{"value":"x","year":1e3}`,
}

// TestFastReadersAgreeWithEncodingJSON: gpsFix.read and
// householdStatus.read give what encoding/json gives, for the shapes they
// read themselves and those they hand over.
func TestFastReadersAgreeWithEncodingJSON(t *testing.T) {
	for _, in := range readerInputs {
		var g, gRef gpsFix
		ok, okRef := g.read([]byte(in)), jsonValue([]byte(in), &gRef)
		if ok != okRef || g != gRef {
			t.Errorf("gps %s: read %v %+v, encoding/json %v %+v", in, ok, g, okRef, gRef)
		}
		var st, stRef householdStatus
		ok, okRef = st.read([]byte(in)), jsonValue([]byte(in), &stRef)
		if ok != okRef || st != stRef {
			t.Errorf("status %s: read %v %+v, encoding/json %v %+v", in, ok, st, okRef, stRef)
		}
	}
}

// TestParseRFC3339PlainAgreesWithTimeParse: whenever the fast time
// parser reads a value, time.Parse reads the same instant and offset;
// the reader (fast parser or time.Parse) accepts exactly what time.Parse
// accepts. Random times and digit edits are tried too (seed printed).
func TestParseRFC3339PlainAgreesWithTimeParse(t *testing.T) {
	inputs := []string{`"2026-08-01T10:00:00Z"`, `"2026-08-01T10:00:00+08:00"`, `"2026-08-01T10:00:00.5+08:00"`,
		`"2026-08-01T10:00:00-05:30"`, `"2026-08-01T10:00:00+00:00"`, `"2026-08-01T10:00:00-00:00"`,
		`"2026-13-01T00:00:00+08:00"`, `"2026-02-30T10:00:00+08:00"`, `"2024-02-29T10:00:00+08:00"`,
		`"2026-08-01 10:00:00+08:00"`, `"2026-08-01T24:00:00Z"`, `"2026-08-01T10:00:60Z"`, `"2026-08-01T10:00:00+24:00"`,
		`"2026-08-01T10:00:00+23:59"`, `"2026-08-01T10:00:00+08:60"`, `"2026-08-01"`, `"2026-08-01T10:00:00z"`,
		`"0000-01-01T00:00:00Z"`, `"2026-00-10T00:00:00Z"`, `"2026-08-00T00:00:00Z"`, `"2026-8-01T10:00:00+08:00"`,
		`"2026-08-01T10:00:00+0800"`, `7`, `null`, ``}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for range 20000 {
		at := time.Unix(rng.Int64N(5e9)-1e9, 0).In(time.FixedZone("", (rng.IntN(57)-28)*1800))
		s := []byte(at.Format(time.RFC3339))
		if rng.IntN(2) == 0 { // an edit: a digit or a separator changed
			s[rng.IntN(len(s))] = "0123456789:-+TZ"[rng.IntN(15)]
		}
		inputs = append(inputs, `"`+string(s)+`"`)
	}
	r := newInputReader(nil, EvidencePolicy{}, time.Time{})
	for _, in := range inputs {
		var s string
		ref, refErr := time.Time{}, fmt.Errorf("not a string")
		if len(in) >= 2 && in[0] == '"' {
			s = in[1 : len(in)-1]
			ref, refErr = time.Parse(time.RFC3339, s)
		}
		if got, ok := parseRFC3339Plain([]byte(in), r.zone); ok {
			_, off := got.Zone()
			_, refOff := ref.Zone()
			if refErr != nil || !got.Equal(ref) || off != refOff {
				t.Errorf("%s: fast %v, time.Parse %v %v", in, got, ref, refErr)
			}
		}
		got, ok := r.time([]byte(in))
		if ok != (refErr == nil) || ok && !got.Equal(ref) {
			t.Errorf("%s: reader %v %v, time.Parse %v %v", in, got, ok, ref, refErr)
		}
	}
}
