package core_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestRecordExport: an export leaves one entry naming what, where and the
// sha256 and size of the very file handed over, in a chain that verifies;
// an export that names nothing is refused and leaves none.
func TestRecordExport(t *testing.T) {
	c, st := auditCore(t, core.Options{})
	ctx := context.Background()
	auditor := core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}
	body := []byte("\ufeff户编号,户主\nh1,张三\n")
	err := c.RecordExport(ctx, auditor, core.Export{What: "compliance_report", Area: "340199001", Format: "csv",
		Period: "2026H1", List: "overdue", File: "合规报告-340199001-2026H1-overdue.csv", Via: "api", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RecordExport(ctx, auditor, core.Export{Area: "340199001", Body: body}); syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Fatalf("unnamed export answered %v, want EINVALID", err)
	}
	head, err := st.VerifyAudit(nil)
	if err != nil || head.Seq != 1 {
		t.Fatalf("verify: head %+v, %v", head, err)
	}
	got, err := c.AuditTrail(ctx, auditor, "340199001", 0, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("trail: %v, %v", got, err)
	}
	sum := sha256.Sum256(body)
	e := got[0]
	want := map[string]string{"what": "compliance_report", "format": "csv", "period": "2026H1", "list": "overdue",
		"file": "合规报告-340199001-2026H1-overdue.csv", "via": "api", "sha256": hex.EncodeToString(sum[:]), "bytes": strconv.Itoa(len(body))}
	if e.Kind != audit.KindExport || e.Actor != "au" || e.Area != "340199001" || len(e.Detail) != len(want) {
		t.Fatalf("entry %+v", e)
	}
	for k, v := range want {
		if e.Detail[k] != v {
			t.Errorf("detail %s = %q, want %q", k, e.Detail[k], v)
		}
	}
}

// TestLoadIsAudited: an operator load is an import and leaves an entry
// with the ops given and applied, also when a reload applies none.
func TestLoadIsAudited(t *testing.T) {
	c, st := auditCore(t, core.Options{})
	ctx := context.Background()
	ops := []*syncengine.Op{householdOp("h1", "seed", "seed"), householdOp("h2", "seed", "seed")}
	for i, wantApplied := range []string{"2", "0"} {
		if _, err := c.Load(ctx, ops); err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		got, err := c.AuditTrail(ctx, core.Operator(), "", 0, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("trail: %v, %v", got, err)
		}
		e := got[0]
		if e.Kind != audit.KindImport || e.Actor != "operator" || e.Area != "340199001001" ||
			e.Detail["what"] != "ops" || e.Detail["ops"] != "2" || e.Detail["applied"] != wantApplied {
			t.Errorf("load %d: entry %+v", i, e)
		}
	}
	if head, err := st.VerifyAudit(nil); err != nil || head.Seq != 2 {
		t.Fatalf("verify: head %+v, %v", head, err)
	}
}

// TestVerifyAuditChain: the chain verifies while untouched; after one
// byte of a stored entry changes, the check names that entry; roles that
// may not read the trail may not check it either.
func TestVerifyAuditChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ruhu.db")
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*core.Core, *boltstore.Store) {
		st, err := boltstore.Open(path, boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return core.New(slog.New(slog.DiscardHandler), st.Core(), reg, core.Options{Now: func() time.Time { return t0 }}), st
	}
	ctx := context.Background()
	auditor := core.Caller{User: "au", Role: "auditor", Scopes: []string{"340199"}}
	c, st := open()
	for i := range 3 {
		if err := c.RecordExport(ctx, auditor, core.Export{What: "compliance_report", Area: "340199", Format: "xlsx", Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.VerifyAuditChain(ctx, auditor)
	if err != nil || !got.Kept || got.Broken != nil || got.Head.Seq != 3 {
		t.Fatalf("untouched chain: %+v, %v", got, err)
	}
	if _, err := c.VerifyAuditChain(ctx, core.Caller{User: "tz", Role: "township", Scopes: []string{"340199001"}}); syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
		t.Fatalf("township answered %v, want EFORBIDDEN", err)
	}
	st.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		k := []byte{0, 0, 0, 0, 0, 0, 0, 2}
		v := bytes.Clone(b.Get(k))
		i := bytes.Index(v, []byte("xlsx"))
		v[i] = 'X' // the format of entry 2, as a careless editor would
		return b.Put(k, v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	c, st = open()
	defer st.Close()
	got, err = c.VerifyAuditChain(ctx, auditor)
	if err != nil || got.Broken == nil || got.Broken.Seq != 2 || got.Head.Seq != 0 {
		t.Fatalf("changed chain: %+v (broken %+v), %v", got, got.Broken, err)
	}
}
