package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// TestCLIExportsAreAudited: `ruhu report` (printed and written) and
// `ruhu backup` on a stopped server's folder each leave an export entry by
// the operator with the sha256 and size of what left, in a chain that
// verifies.
func TestCLIExportsAreAudited(t *testing.T) {
	data := seededDataDir(t)
	period := demoReportPeriod(time.Now()).Label
	dir := t.TempDir()
	xlsx, backup := filepath.Join(dir, "r.xlsx"), filepath.Join(dir, "backup.db")
	printed, err := runCLI(t, "report", "--data", data, "--area", "340199", "--period", period)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"report", "--data", data, "--area", "340199001", "--period", period, "--out", xlsx},
		{"backup", "--data", data, "--out", backup},
	} {
		if out, err := runCLI(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	st, err := boltstore.Open(filepath.Join(data, "ruhu.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.VerifyAudit(nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var exports []*audit.Entry
	err = st.View(func(tx *boltstore.Tx) error {
		return tx.AuditEntries(0, func(e *audit.Entry) bool {
			if e.Kind == audit.KindExport {
				exports = append(exports, e)
			}
			return true
		})
	})
	if err != nil || len(exports) != 3 {
		t.Fatalf("%d export entries (%v), want 3", len(exports), err)
	}
	digest := func(b []byte) (string, string) {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), strconv.Itoa(len(b))
	}
	xlsxBytes, _ := os.ReadFile(xlsx)
	backupBytes, _ := os.ReadFile(backup)
	for i, want := range []struct {
		what, format, area string
		body               []byte
	}{
		{"backup", "bbolt", "", backupBytes},
		{"compliance_report", "xlsx", "340199001", xlsxBytes},
		{"compliance_report", "text", "340199", []byte(printed)},
	} {
		e := exports[i] // newest first
		sum, size := digest(want.body)
		if e.Actor != "operator" || e.Area != want.area || e.Detail["what"] != want.what || e.Detail["format"] != want.format ||
			e.Detail["via"] != "cli" || e.Detail["sha256"] != sum || e.Detail["bytes"] != size {
			t.Errorf("entry %d: %+v, want %s %s of %s bytes", i, e, want.what, want.format, size)
		}
	}
}
