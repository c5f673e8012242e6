package core

import (
	"encoding/json"
	"testing"
)

// TestJSONStringAgreesWithUnmarshal holds jsonString's plain-string path
// to encoding/json's meaning.
func TestJSONStringAgreesWithUnmarshal(t *testing.T) {
	tests := []string{
		`"h-solo"`, `""`, `"张建国"`, `"a\"b"`, `"a\\b"`, `"\u0061"`, `"a\nb"`, "\"a\nb\"", "\"\xff\"", `"a"b"`,
		`null`, `123`, `true`, `{}`, `["a"]`, ` "a"`, `"a" `, `"`, ``, `"a`, `a"`,
	}
	for _, raw := range tests {
		var want string
		wantOK := json.Unmarshal([]byte(raw), &want) == nil
		got, ok := jsonString(json.RawMessage(raw))
		if ok != wantOK || got != want {
			t.Errorf("jsonString(%q) = %q, %v; encoding/json gives %q, %v", raw, got, ok, want, wantOK)
		}
	}
}
