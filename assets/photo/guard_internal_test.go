package photo

import (
	"errors"
	"strings"
	"testing"
)

func TestGuardTurnsPanicIntoErrCorrupt(t *testing.T) {
	err := guard(func() error { panic("index out of range in a decoder") })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index out of range in a decoder") {
		t.Fatalf("guard = %v, want ErrCorrupt carrying the panic message", err)
	}
	want := errors.New("plain failure")
	if err := guard(func() error { return want }); err != want {
		t.Fatalf("guard changed a plain error: %v", err)
	}
}
