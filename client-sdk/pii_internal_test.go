package client

import (
	"bytes"
	"encoding/json"
	"testing"
)

func testCipher(t testing.TB) *piiCipher {
	t.Helper()
	slot, err := staticSlot(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &piiCipher{keys: slot, fields: func(string) []string { return []string{"name"} }}
}

// TestSealedForms: what seal writes opens by its fixed form, the same
// value in any other JSON spelling opens too, and values that are not
// sealed pass through unchanged.
func TestSealedForms(t *testing.T) {
	p := testCipher(t)
	sealed, err := p.seal("members", "m1", "name", json.RawMessage(`"张三"`))
	if err != nil {
		t.Fatal(err)
	}
	var s sealedValue
	if err := json.Unmarshal(sealed, &s); err != nil || s.Sealed == "" {
		t.Fatalf("sealed form %s is not the JSON of sealedValue: %v", sealed, err)
	}
	spaced := json.RawMessage(`{ "$sealed" : "` + s.Sealed + `" }`)
	for name, v := range map[string]json.RawMessage{"as written": sealed, "respelled": spaced} {
		got, err := p.open("members", "m1", "name", v)
		if err != nil || string(got) != `"张三"` {
			t.Errorf("%s: %s, %v", name, got, err)
		}
	}
	if _, err := p.open("members", "m2", "name", sealed); err == nil {
		t.Error("a value sealed for m1 opened as m2's")
	}
	for _, v := range []string{`"clear"`, `{"value":"x"}`, `{"$sealed":""}`, `null`, `{"$sealed":"a\"b"}`} {
		got, err := p.open("members", "m1", "name", json.RawMessage(v))
		if v == `{"$sealed":"a\"b"}` {
			if err == nil {
				t.Errorf("%s opened as %s", v, got)
			}
			continue
		}
		if err != nil || string(got) != v {
			t.Errorf("%s: %s, %v", v, got, err)
		}
	}
}

// FuzzOpenSealed: opening any stored bytes never panics, and whatever is
// sealed opens to itself.
func FuzzOpenSealed(f *testing.F) {
	f.Add([]byte(`"张三"`), []byte(`{"$sealed":"AAAA"}`))
	f.Add([]byte(`12`), []byte(`{"$sealed":"`))
	p := testCipher(f)
	f.Fuzz(func(t *testing.T, value, stored []byte) {
		_, _ = p.open("members", "m1", "name", stored)
		if !json.Valid(value) {
			return
		}
		sealed, err := p.seal("members", "m1", "name", value)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.open("members", "m1", "name", sealed)
		if err != nil || (len(value) > 0 && string(value) != "null" && !bytes.Equal(got, value)) {
			t.Fatalf("sealed %q opened as %q, %v", value, got, err)
		}
	})
}
