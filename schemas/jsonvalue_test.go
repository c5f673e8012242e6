package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// referenceDecode is what decodeValue must agree with: encoding/json with
// UseNumber, refusing trailing data.
func referenceDecode(data []byte) (any, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

var decodeSeeds = []string{
	`"张桂英"`, `""`, `"a\"b\\c\/d\u00e9\ud83d\ude00\n"`, `"\ud800"`, `"bad \x"`, "\"\xff\xfe\"",
	"\"ctl\x01\"", `"unterminated`, `"ends in backslash\`,
	`0`, `-0`, `-0.5e+10`, `1E400`, `01`, `1.`, `.5`, `-`, `1e`, `2.5e-3`, `12345678901234567890123`, `1e400`, `1e401`, `-1.5E-999999`, `1e00000000000000000000001`,
	`0.` + strings.Repeat("0", 70) + `1`,
	`true`, `false`, `null`, `nul`, `truex`, ` true `,
	`[]`, `[1,"a",[],{}]`, `[1,]`, `[,1]`, `[1 2]`,
	`{}`, `{"a":1,"a":2}`, `{"a":{"b":[{"c":null}]}}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{"k\u00e9y":"v"}`,
	`1 2`, `{} x`, "", " ", strings.Repeat("[", 100) + strings.Repeat("]", 100),
	`"\u0000"`, `"a\u0000b"`, `"\\u0000"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\n"`, `"x\ud83d"`, `"\ud83d\ude00\ud800"`,
	"\"\xed\xa0\x80\"", `{"\ud800":1}`, `["\u0000"]`,
}

func TestDecodeValueAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecodeAgrees(t, []byte(s))
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeAgrees)
}

func checkDecodeAgrees(t *testing.T, data []byte) {
	got, err := decodeValue(data)
	if errors.Is(err, errTooDeep) || errors.Is(err, errNumberRange) {
		return // limits encoding/json does not have (deeper than 64, |exponent| > 400, > 64 bytes)
	}
	if errors.Is(err, errNULString) || errors.Is(err, errSurrogateString) || errors.Is(err, errUTF8String) {
		return // strings encoding/json takes (turning some into U+FFFD) and the validator refuses
	}
	want, ok := referenceDecode(data)
	if ok != (err == nil) {
		t.Fatalf("%q: decodeValue err = %v, encoding/json ok = %v", data, err, ok)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeValue = %#v, encoding/json = %#v", data, got, want)
	}
}

func TestDecodeValueLimits(t *testing.T) {
	tests := []struct {
		in   string
		want error // nil: accepted
	}{
		{`1e400`, nil},
		{`-2.5E-400`, nil},
		{`1e401`, errNumberRange},
		{`1.5e999999`, errNumberRange},
		{`[1e-1000000]`, errNumberRange},
		{`1e0000000000000000000000000000000000000000000000000000000000000005`, errNumberRange},
		{strings.Repeat("9", 64), nil},
		{strings.Repeat("9", 65), errNumberRange},
		{strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), nil},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), errTooDeep},
		{strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1), errTooDeep},
	}
	for _, tc := range tests {
		_, err := decodeValue([]byte(tc.in))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("decodeValue(%.40q...) = %v, want %v", tc.in, err, tc.want)
		}
	}
}
