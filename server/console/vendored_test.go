package console_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every vendored file matches the version and sha256 recorded in
// static/VENDORED.md, and its license file is there.
func TestVendoredFilesPinned(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("static", "VENDORED.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|[^|]+\\| ([0-9.]+) \\| `([0-9a-f]{64})` \\| [^,|]+, `([^`]+)` \\|$").FindAllStringSubmatch(string(doc), -1)
	if len(rows) == 0 {
		t.Fatal("VENDORED.md lists no pinned file")
	}
	for _, r := range rows {
		b, err := os.ReadFile(filepath.Join("static", r[1]))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != r[3] {
			t.Errorf("%s (version %s): sha256 %s, VENDORED.md says %s", r[1], r[2], got, r[3])
		}
		if _, err := os.Stat(filepath.Join("static", r[4])); err != nil {
			t.Errorf("%s: license file: %v", r[1], err)
		}
	}
}
