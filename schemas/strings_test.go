package schemas_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

// TestValidateRefusesOddStrings reproduces issue 10, bug 5: a NUL byte and
// a lone surrogate (\ud800, escaped) in a string value were accepted and
// stored (encoding/json turns the surrogate into U+FFFD, so what was kept
// was not what was sent). They are refused wherever a string occurs, keys
// of nested objects included; proper pairs and other escapes still pass.
func TestValidateRefusesOddStrings(t *testing.T) {
	r := newRegistry(t)
	tests := []struct {
		name, field, value string
		reason             string // "" accepted
	}{
		{"NUL escape", "head_name", `"张三\u0000"`, "NUL"},
		{"lone high surrogate", "head_name", `"\ud800"`, "surrogate"},
		{"lone low surrogate", "head_name", `"a\udc00b"`, "surrogate"},
		{"high surrogate then a letter", "head_name", `"\ud800\u0041"`, "surrogate"},
		{"high surrogate at the end after text", "address", `"村\uD83D"`, "surrogate"},
		{"raw surrogate bytes", "head_name", "\"\xed\xa0\x80\"", "UTF-8"},
		{"invalid UTF-8", "head_name", "\"\xff\"", "UTF-8"},
		{"NUL inside an array", "flags", `["dibao\u0000"]`, "NUL"},
		{"surrogate in a nested key", "status", `{"value":"exited","year":2019,"\ud800":1}`, "surrogate"},
		{"surrogate pair (emoji)", "address", `"村口\ud83c\udfe0"`, ""},
		{"escaped backslash before u0000", "address", `"a\\u0000"`, ""},
		{"other escapes", "address", `"\u4e1c\"\n\t"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.ValidatePatch("households", map[string]json.RawMessage{tc.field: json.RawMessage(tc.value)})
			if tc.reason == "" {
				var fe *schemas.FieldError
				if errors.As(err, &fe) && strings.Contains(fe.Reason, "string") {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, schemas.ErrInvalidValue) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("ValidatePatch = %v, want an invalid %s naming %q", err, tc.field, tc.reason)
			}
			if err := r.ValidateRecord("households", map[string]json.RawMessage{"head_name": json.RawMessage(`"李四"`),
				"status": json.RawMessage(`{"value":"exited","year":2019}`), "primary_cause": json.RawMessage(`"illness"`),
				tc.field: json.RawMessage(tc.value)}); !errors.Is(err, schemas.ErrInvalidValue) {
				t.Fatalf("ValidateRecord = %v, want ErrInvalidValue", err)
			}
		})
	}
}
