package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// TestDemoExitWalk runs the demo's exit walk against a server seeded with
// the demo county: the 4-day village notice is refused with its code and
// reason, the case reaches the county's registration, and the ledger item
// is closed after the rectifier's own verification and closing are
// refused; the server holds the eight steps and the closed item.
func TestDemoExitWalk(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	var out syncBuffer
	if err := demoExit(context.Background(), srv.url, dir, time.Now(), &out); err != nil {
		t.Fatalf("demo exit: %v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{
		"村内公示 4 天：被拒 EINVALID " + rules.CodeExitNoticeTooShort,
		"县级备案标注（county）：已受理", "农户 " + demoExitHousehold + " 退出程序完成",
		"整改人自己核验（township1）：被拒 EINVALID " + rules.CodeLedgerSameUser,
		"整改人自己销号（township1）：被拒 EFORBIDDEN " + rules.CodeLedgerWrongRole,
		"县级销号（county）：已受理",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exit walk output lacks %q:\n%s", want, out.String())
		}
	}
	county := login(t, srv.url, "county")
	for _, id := range []string{"step-appraisal", "step-verification", "step-acknowledgement", "step-village-notice",
		"step-township-review", "step-township-notice", "step-township-approval", "step-county-registration"} {
		if r := county.record("exit_steps", id); !sameJSON(r.Record.Fields["case_id"], []byte(`"`+demoExitCase+`"`)) {
			t.Errorf("exit step %s: %s", id, dump(r.Record.Fields))
		}
	}
	var missing struct{}
	if code := county.do("GET", "/v1/records/exit_steps/step-village-notice-4d", nil, &missing); code != 404 {
		t.Errorf("the refused notice is on the server: %d", code)
	}
	if r := county.record("ledger_items", demoLedgerItem); !sameJSON(r.Record.Fields["status"], []byte(`"closed"`)) {
		t.Errorf("ledger item: %s", dump(r.Record.Fields))
	}
}
