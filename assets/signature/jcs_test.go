package signature_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/signature"
)

// TestCanonicalizeRFC8785Examples checks the worked examples of RFC 8785
// §3.2.2 (values) and §3.2.3 (sorting).
func TestCanonicalizeRFC8785Examples(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "§3.2.2 primitives",
			in: `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			name: "§3.2.3 sorting by UTF-16 code units",
			in: `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{name: "nested objects sorted at every level", in: `{"b":{"y":1,"x":[{"d":0,"c":0}]},"a":[]}`, want: `{"a":[],"b":{"x":[{"c":0,"d":0}],"y":1}}`},
		{name: "empty containers", in: ` { } `, want: `{}`},
		{name: "control characters", in: `"\u0000\u001f\u0008\u007f\u2028"`, want: "\"\\u0000\\u001f\\b\u007f\u2028\""},
		{name: "solidus and non-ASCII stay literal", in: `"a\/b \u5f20\u5efa\u56fd"`, want: `"a/b 张建国"`},
		{name: "HTML characters are not escaped", in: `"<&>\u003c"`, want: `"<&><"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := signature.Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestCanonicalNumbers is the number table of RFC 8785 Appendix B plus the
// boundaries of ECMAScript's layout rules.
func TestCanonicalNumbers(t *testing.T) {
	bits := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range bits {
		f := math.Float64frombits(tt.bits)
		in, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := signature.Canonicalize(in)
		if err != nil {
			t.Fatalf("%#016x: %v", tt.bits, err)
		}
		if string(got) != tt.want {
			t.Errorf("%#016x (%s): got %s, want %s", tt.bits, in, got, tt.want)
		}
	}
	literals := []struct{ in, want string }{
		{"1e21", "1e+21"},
		{"1e20", "100000000000000000000"},
		{"0.000001", "0.000001"},
		{"0.0000001", "1e-7"},
		{"-0", "0"},
		{"-0.0e5", "0"},
		{"333333333.33333329", "333333333.3333333"},
		{"1E30", "1e+30"},
		{"4.50", "4.5"},
		{"2e-3", "0.002"},
		{"123.456e2", "12345.6"},
		{"1.5e300", "1.5e+300"},
		{"-12", "-12"},
		{"100", "100"},
		{"1e-400", "0"}, // underflows to zero, a double like any other
	}
	for _, tt := range literals {
		got, err := signature.Canonicalize([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestCanonicalizeRefusesWhatIsNotIJSON(t *testing.T) {
	tests := map[string]string{
		"duplicate key":          `{"a":1,"a":2}`,
		"duplicate after escape": `{"a":1,"\u0061":2}`,
		"lone high surrogate":    `"\ud800"`,
		"lone low surrogate":     `"\udc00x"`,
		"reversed surrogates":    `"\udc00\ud800"`,
		"invalid UTF-8":          "\"\xff\"",
		"number too large":       `1e400`,
		"leading zero":           `012`,
		"bare dot":               `1.`,
		"plus sign":              `+1`,
		"NaN":                    `NaN`,
		"raw control char":       "\"a\tb\"",
		"trailing comma":         `[1,]`,
		"trailing data":          `{} {}`,
		"empty":                  ``,
		"single quotes":          `'a'`,
		"bad escape":             `"\x"`,
		"unterminated":           `{"a":`,
		"truncated literal":      `tru`,
		"deep nesting":           strings.Repeat("[", 600) + strings.Repeat("]", 600),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := signature.Canonicalize([]byte(in))
			if !errors.Is(err, signature.ErrNotCanonicalizable) {
				t.Fatalf("got %q, %v; want ErrNotCanonicalizable", out, err)
			}
		})
	}
}

// FuzzCanonicalize: whatever Canonicalize accepts, its output is valid JSON
// with the same value, and canonicalizing it again changes nothing.
func FuzzCanonicalize(f *testing.F) {
	for _, seed := range []string{
		`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"literals":[null,true,false]}`,
		`{"\u20ac":"Euro Sign","\r":"CR","\ufb33":"Dalet","1":"One","\ud83d\ude00":"Emoji","\u0080":"Control"}`,
		`[1e21,0.000001,-0,5e-324,1.7976931348623157e308]`,
		`{"signer_name":"张建国","strokes":[[{"x":1.5,"y":2,"t":0}]]}`,
		`"\u0000\"\\\/\b\f\n\r\t"`,
		`{"a":{"b":{"c":[true,false,null,"",{}]}}}`,
		`{"a":1,"a":2}`,
		`1e400`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := signature.Canonicalize(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out: %q from %q", out, in)
		}
		again, err := signature.Canonicalize(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %q → %q (%v)", out, again, err)
		}
		var a, b any
		if err := json.Unmarshal(in, &a); err != nil {
			t.Fatalf("accepted input encoding/json refuses: %q: %v", in, err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("value changed: %q → %q", in, out)
		}
	})
}
