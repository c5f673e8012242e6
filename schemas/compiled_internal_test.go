package schemas

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// compiledPool is raw field values that probe the compiled checks: valid
// values of the shipped fields, values just inside and outside their
// bounds, and the spellings that only the library may judge (escapes,
// 1.0, exponents, duplicates, null, invalid UTF-8).
var compiledPool = []string{
	`"01JC8Z6Q4W3X5M2N7P9R0S1T2V"`, `"wang.lei"`, `"2025-11-03T09:41:00+08:00"`, `"2025-11-03T09:41:00.123Z"`,
	`"2025-02-30T09:41:00Z"`, `"2025-11-03"`, `"2025-09-31"`, `"2025-11-03t09:41:00z"`, `"2025-11-03T24:00:00Z"`,
	`{"lat":31.678213,"lon":115.903477,"accuracy_m":8.5}`, `{"lat":90,"lon":-180,"accuracy_m":0}`,
	`{"lat":90.0000000000000000001,"lon":0}`, `{"lat":-90.00000000000001,"lon":0}`, `{"lat":9e1,"lon":-18E1}`,
	`{"lat":1,"lon":2,"lon":200}`, `{"lat":1,"lon":2,"extra":1}`, `{"lat":1}`, `{"lat":"1","lon":2}`, `{"lat":1,"lon":2,"accuracy_m":-0}`,
	`{"lat":1,"lon":2,"accuracy_m":-0.0000000000000000000000001}`, `{"lat":1,"lon":2,"\u006cat":3}`,
	`{"food":"ok","clothing":"ok","education":"na","medical":"problem","housing":"ok","drinking_water":"ok"}`,
	`{"food":"ok","clothing":"ok","education":"na","medical":"problem","housing":"ok"}`,
	`{"food":"ok","clothing":"ok","education":"na","medical":"problem","housing":"ok","drinking_water":"\u006fk"}`,
	`"户主反映医保报销比例偏低，已联系乡卫生院核实。"`, `"line\nbreak"`, `"\u0000"`, `"\ud800"`, `"a\ud83d\ude00"`, "\"\xff\"",
	`""`, `"` + strings.Repeat("长", 64) + `"`, `"` + strings.Repeat("长", 65) + `"`, `"` + strings.Repeat("x", 4001) + `"`,
	`"张桂英"`, `"head"`, `"spouse"`, `"nobody"`, `"illness"`, `"ok"`, `"problem"`, `"exited"`, `"poor"`,
	`["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"]`,
	`["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]`,
	`["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0\u0038"]`,
	`["9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"]`, `[]`, `[null]`, `[1,1]`, `["a","a"]`, `["a","b"]`,
	`["illness","disability"]`, `["illness","illness"]`, `["01JC8Z9S1G2N3A4T5U6R7E8I9D"]`,
	`0`, `-0`, `1`, `1.0`, `1.5`, `1.25`, `1.255`, `1.250000`, `12.34e1`, `1e2`, `1e-2`, `-1`, `4`, `2019`, `2019.0`, `1e400`,
	`123456789012345678901234567890`, `0.01`, `0.1`, `99999999.99`, `1e308`,
	`true`, `false`, `null`, `{}`, `[[]]`, `{"value":"exited","year":2019}`, `{"value":"exited","year":2019.5}`,
	`{"value":"exited"}`, `{"value":"exited","year":2019,"year":"x"}`, ` "ok" `, `"ok" x`, `"ok"  `, `{"a":}`, `[1,]`, `"abc`,
	`[{"x":1,"y":2,"t":3}]`, `[[{"x":1,"y":2,"t":3}],[]]`, `"dGVzdA=="`, `"===="`, `"340199001001"`, `"340199001"`,
	`"2024-2025"`, `"2024-2026"`, `"13805511000"`,
}

// poolWithEnums adds every enum value of every field, so the enums are
// probed from inside too.
func poolWithEnums(r *Registry) []string {
	pool := slices.Clone(compiledPool)
	var walk func(c *compiledCheck, depth int)
	walk = func(c *compiledCheck, depth int) {
		if c == nil || depth > 8 {
			return
		}
		for _, v := range c.enum {
			b, _ := json.Marshal(v)
			pool = append(pool, string(b))
		}
		for _, sub := range c.props {
			walk(sub, depth+1)
		}
		walk(c.items, depth+1)
	}
	for _, name := range r.names {
		for _, c := range r.collections[name].compiled.fields {
			walk(c, 0)
		}
	}
	slices.Sort(pool)
	return slices.Compact(pool)
}

// libraryAccepts is the full path of ValidatePatch for one field.
func libraryAccepts(c *collection, field string, raw []byte) bool {
	v, err := decodeValue(raw)
	return err == nil && c.props[field].Validate(v) == nil
}

// checkCompiledImpliesLibrary fails when the compiled check of a field
// accepts a value the library refuses. It reports whether it accepted.
func checkCompiledImpliesLibrary(t *testing.T, c *collection, field string, raw []byte) bool {
	t.Helper()
	if !c.compiled.fields[field].accepts(raw) {
		return false
	}
	if !libraryAccepts(c, field, raw) {
		t.Fatalf("%s.%s: compiled check accepts %q, the library refuses it", c.name, field, raw)
	}
	return true
}

func TestCompiledImpliesLibrary(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	pool := poolWithEnums(r)
	accepted := 0
	for _, name := range r.names {
		c := r.collections[name]
		for field := range c.props {
			for _, raw := range pool {
				if checkCompiledImpliesLibrary(t, c, field, []byte(raw)) {
					accepted++
				}
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("compiled checks accepted only %d probes: the fast path is barely used", accepted)
	}
}

// TestCompiledCoversShippedSchemas holds which shipped fields the compiled
// checks leave to the library: a schema change that turns the fast path
// off for a field must show up here. It also checks that typical values
// of the push's hot collections take the fast path.
func TestCompiledCoversShippedSchemas(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var library []string
	for _, name := range r.names {
		c := r.collections[name]
		if !c.compiled.exact {
			library = append(library, name)
		}
		for field, check := range c.compiled.fields {
			if !check.exact {
				library = append(library, name+"."+field)
			}
		}
	}
	slices.Sort(library)
	if want := []string{"signatures.device_signature"}; !slices.Equal(library, want) {
		t.Errorf("left to the library: %v, want %v", library, want)
	}
	visit := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(`{"household_id":"01JC8Z6Q4W3X5M2N7P9R0S1T2V","officer":"wang.lei",
		"visited_at":"2025-11-03T09:41:00+08:00","gps":{"lat":31.678213,"lon":115.903477,"accuracy_m":8.5},
		"checklist":{"food":"ok","clothing":"ok","education":"na","medical":"problem","housing":"ok","drinking_water":"ok"},
		"notes":"户主反映医保报销比例偏低。","answered_by_name":"张桂英","answered_by_relation":"head",
		"photo_sha256s":["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
		"signature_ids":["01JC8Z9S1G2N3A4T5U6R7E8I9D"]}`), &visit); err != nil {
		t.Fatal(err)
	}
	if !r.collections["visits"].compiled.acceptsRecord(visit) {
		t.Error("a typical visit does not take the compiled path")
	}
	delete(visit, "checklist")
	if r.collections["visits"].compiled.acceptsRecord(visit) {
		t.Error("a visit without its required checklist is accepted by the compiled path")
	}
	if !r.collections["visits"].compiled.acceptsPatch(visit) {
		t.Error("a visit patch without checklist does not take the compiled path")
	}
	photo := map[string]json.RawMessage{"blob_sha256": json.RawMessage(`"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"`),
		"stage": json.RawMessage(`"before"`), "captured_at": json.RawMessage(`"2025-11-03T09:41:00+08:00"`)}
	photos := r.collections["photos"].compiled
	if photos.acceptsRecord(photo) {
		t.Error("a photo of neither household nor case is accepted by the compiled path")
	}
	photo["case_id"] = json.RawMessage(`"c-1"`)
	if err := r.ValidateRecord("photos", photo); err != nil || !photos.acceptsRecord(photo) {
		t.Error("a valid photo of a case does not take the compiled path")
	}
}

// FuzzCompiledImpliesLibrary: whatever a compiled check accepts, the
// library accepts, for every field of every collection.
func FuzzCompiledImpliesLibrary(f *testing.F) {
	r, err := New()
	if err != nil {
		f.Fatal(err)
	}
	for _, raw := range poolWithEnums(r) {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, name := range r.names {
			c := r.collections[name]
			for field := range c.props {
				checkCompiledImpliesLibrary(t, c, field, raw)
			}
		}
	})
}
