package pouchpeer_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
)

// TestMakefilePinsTheSameVersions: `make tools` installs the versions
// the Go side checks for, so a bump in one place cannot leave the bench
// saying "not installed" after an install.
func TestMakefilePinsTheSameVersions(t *testing.T) {
	raw, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, pin := range []struct{ variable, want string }{
		{"POUCHDB_VERSION", pouchpeer.PouchDBVersion},
		{"EXPRESS_POUCHDB_VERSION", pouchpeer.ExpressPouchDBVersion},
		{"EXPRESS_VERSION", pouchpeer.ExpressVersion},
	} {
		m := regexp.MustCompile(`(?m)^` + pin.variable + `\s*:=\s*(\S+)$`).FindSubmatch(raw)
		if m == nil {
			t.Errorf("Makefile has no %s", pin.variable)
			continue
		}
		if string(m[1]) != pin.want {
			t.Errorf("Makefile %s = %s, Go says %s", pin.variable, m[1], pin.want)
		}
	}
}
