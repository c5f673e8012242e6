package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The parts of a store the HTTP server and the upload service use beside
// the core's (core.BlobTx, core.UploadTx, core.WebSessionTx,
// core.AuditTx, core.ScanTx): every store a server runs on keeps them.

// fullTx is every interface a server's store transaction implements.
type fullTx interface {
	core.Tx
	core.AuditTx
	core.BlobTx
	core.UploadTx
	core.WebSessionTx
	core.ScanTx
}

// full runs fn in a transaction of s (read-only unless write), failing
// the test when the store's transactions lack a part.
func full(t *testing.T, s core.Store, write bool, fn func(fullTx) error) {
	t.Helper()
	run := s.View
	if write {
		run = s.UpdateSolo
	}
	err := run(func(tx core.Tx) error {
		ft, ok := tx.(fullTx)
		if !ok {
			return fmt.Errorf("%T lacks blobs, uploads, web sessions, audit or scans", tx)
		}
		return fn(ft)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testBlobs(t *testing.T, s core.Store) {
	taken := t0.Add(-time.Hour)
	b1 := &core.Blob{SHA256: "bb", Size: 10, Kind: "photo", Status: core.BlobProcessing, CreatedAt: t0,
		Refs: []core.BlobRef{{Collection: collection.Photos, RecordID: "p1", Area: area, UploadedBy: "wang", UploadedAt: t0}}}
	b2 := &core.Blob{SHA256: "aa", Size: 5, Kind: "signature", Status: core.BlobFailed, Reason: "not an image", CreatedAt: t0, Refs: []core.BlobRef{}}
	full(t, s, true, func(tx fullTx) error {
		if err := tx.PutBlob(b1); err != nil {
			return err
		}
		return tx.PutBlob(b2)
	})
	b1.Status, b1.Type, b1.Width, b1.Height, b1.TakenAt = core.BlobReady, "image/jpeg", 640, 480, &taken
	b1.GPS, b1.PHash, b1.HasPHash, b1.HasPreview = &core.GPS{Lat: 31.5, Lon: 117.2}, 0xfedcba9876543210, true, true
	full(t, s, true, func(tx fullTx) error { return tx.PutBlob(b1) })
	full(t, s, false, func(tx fullTx) error {
		got, err := tx.Blob("bb")
		if err != nil || got == nil {
			return fmt.Errorf("blob bb: %v, %v", got, err)
		}
		if got.Status != core.BlobReady || got.PHash != b1.PHash || !got.HasPHash || got.GPS == nil || got.GPS.Lat != 31.5 ||
			got.TakenAt == nil || !got.TakenAt.Equal(taken) || len(got.Refs) != 1 || got.Refs[0].RecordID != "p1" || !got.CreatedAt.Equal(t0) {
			t.Errorf("blob read back as %+v", got)
		}
		if none, err := tx.Blob("cc"); none != nil || err != nil {
			t.Errorf("absent blob: %v, %v", none, err)
		}
		var order []string
		if err := tx.Blobs(func(b *core.Blob) bool { order = append(order, b.SHA256+":"+string(b.Status)); return true }); err != nil {
			return err
		}
		if want := []string{"aa:failed", "bb:ready"}; !slices.Equal(order, want) {
			t.Errorf("Blobs = %v, want %v", order, want)
		}
		n := 0
		if err := tx.Blobs(func(*core.Blob) bool { n++; return false }); err != nil || n != 1 {
			t.Errorf("Blobs did not stop when told: %d, %v", n, err)
		}
		return nil
	})
}

func testUploads(t *testing.T, s core.Store) {
	u := &core.Upload{ID: "u2", Owner: "wang", Length: 100, Offset: 40, SHA256: "ab", Kind: "photo", Collection: collection.Photos,
		RecordID: "p1", Area: area, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	full(t, s, true, func(tx fullTx) error {
		if err := tx.PutUpload(u); err != nil {
			return err
		}
		return tx.PutUpload(&core.Upload{ID: "u1", Owner: "li", Length: 1, CreatedAt: t0, ExpiresAt: t0})
	})
	u.Offset, u.Done = 100, true
	full(t, s, true, func(tx fullTx) error { return tx.PutUpload(u) })
	full(t, s, false, func(tx fullTx) error {
		got, err := tx.Upload("u2")
		if err != nil || got == nil {
			return fmt.Errorf("upload u2: %v, %v", got, err)
		}
		if got.Owner != u.Owner || got.Offset != 100 || !got.Done || !got.ExpiresAt.Equal(u.ExpiresAt) || got.Area != area ||
			got.SHA256 != u.SHA256 || got.RecordID != u.RecordID || got.Length != u.Length {
			t.Errorf("upload read back as %+v", got)
		}
		var ids []string
		if err := tx.Uploads(func(u *core.Upload) bool { ids = append(ids, u.ID); return true }); err != nil {
			return err
		}
		if !slices.Equal(ids, []string{"u1", "u2"}) {
			t.Errorf("Uploads = %v", ids)
		}
		return nil
	})
	full(t, s, true, func(tx fullTx) error {
		if err := tx.DeleteUpload("u1"); err != nil {
			return err
		}
		return tx.DeleteUpload("absent")
	})
	full(t, s, false, func(tx fullTx) error {
		if got, err := tx.Upload("u1"); got != nil || err != nil {
			t.Errorf("deleted upload: %v, %v", got, err)
		}
		return nil
	})
}

func testWebSessions(t *testing.T, s core.Store) {
	live := &core.WebSession{Key: "k1", Username: "zhou", CSRF: "c1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	full(t, s, true, func(tx fullTx) error {
		if err := tx.PutWebSession(&core.WebSession{}); err == nil {
			t.Error("a session without a key was stored")
		}
		if err := tx.PutWebSession(live); err != nil {
			return err
		}
		if err := tx.PutWebSession(&core.WebSession{Key: "k2", Username: "li", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}); err != nil {
			return err
		}
		return tx.PutWebSession(&core.WebSession{Key: "k3", Username: "li", CreatedAt: t0, ExpiresAt: t0})
	})
	full(t, s, true, func(tx fullTx) error {
		n, err := tx.DeleteExpiredWebSessions(t0.Add(time.Minute))
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("expired sessions removed: %d, want 2 (expiry at now counts as expired)", n)
		}
		if err := tx.DeleteWebSession("absent"); err != nil {
			t.Errorf("delete an absent session: %v", err)
		}
		return nil
	})
	full(t, s, false, func(tx fullTx) error {
		got, err := tx.WebSession("k1")
		if err != nil || got == nil || got.Username != "zhou" || got.CSRF != "c1" || !got.ExpiresAt.Equal(live.ExpiresAt) {
			t.Errorf("session k1: %+v, %v", got, err)
		}
		if got, err := tx.WebSession("k2"); got != nil || err != nil {
			t.Errorf("expired session k2 kept: %v, %v", got, err)
		}
		return nil
	})
	full(t, s, true, func(tx fullTx) error { return tx.DeleteWebSession("k1") })
	full(t, s, false, func(tx fullTx) error {
		if got, err := tx.WebSession("k1"); got != nil || err != nil {
			t.Errorf("deleted session: %v, %v", got, err)
		}
		return nil
	})
}

func testAudit(t *testing.T, s core.Store) {
	for i := range 5 {
		full(t, s, true, func(tx fullTx) error {
			return tx.AppendAudit(&audit.Entry{Time: t0.Add(time.Duration(i) * time.Second), Kind: audit.KindLogin,
				Actor: "wang", Area: area, Detail: map[string]string{"n": fmt.Sprint(i)}})
		})
	}
	// A failed transaction leaves no entry behind.
	err := s.UpdateSolo(func(tx core.Tx) error {
		if err := tx.(core.AuditTx).AppendAudit(&audit.Entry{Time: t0, Kind: audit.KindLogin, Actor: "gone"}); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("rolled back append: %v", err)
	}
	full(t, s, false, func(tx fullTx) error {
		var seqs []uint64
		if err := tx.AuditEntries(0, func(e *audit.Entry) bool { seqs = append(seqs, e.Seq); return true }); err != nil {
			return err
		}
		if !slices.Equal(seqs, []uint64{5, 4, 3, 2, 1}) {
			t.Errorf("entries newest first: %v", seqs)
		}
		seqs = nil
		if err := tx.AuditEntries(4, func(e *audit.Entry) bool { seqs = append(seqs, e.Seq); return len(seqs) < 2 }); err != nil {
			return err
		}
		if !slices.Equal(seqs, []uint64{3, 2}) {
			t.Errorf("entries below 4, two of them: %v", seqs)
		}
		head, err := tx.VerifyAudit(nil)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if head.Seq != 5 {
			t.Errorf("head %d, want 5", head.Seq)
		}
		if _, err := tx.VerifyAudit(&head); err != nil {
			t.Errorf("verify against its own head: %v", err)
		}
		forged := head
		forged.Hash = append([]byte(nil), head.Hash...)
		forged.Hash[0] ^= 1
		if _, err := tx.VerifyAudit(&forged); err == nil {
			t.Error("a forged anchor verified")
		}
		return nil
	})
}

// errRollback makes a transaction roll back.
var errRollback = fmt.Errorf("roll back")

func testScans(t *testing.T, s core.Store) {
	var m opMaker
	at := func(op *syncengine.Op, a string) *syncengine.Op { op.Area = a; return op }
	h1 := at(m.op(collection.Households, "h1", map[string]any{"head_name": "张三", "status": "monitored", "phone": "1"}), "340199001001")
	h2 := at(m.op(collection.Households, "h2", map[string]any{"head_name": "李四", "status": "stable"}), "340199001002")
	h3 := at(m.op(collection.Households, "h3", map[string]any{"head_name": "王五"}), "340199002001")
	h4 := at(m.op(collection.Households, "h4", map[string]any{"head_name": "赵六"}), "350100001001")
	gone := at(m.op(collection.Households, "h5", map[string]any{"head_name": "钱七"}), "340199001001")
	del := at(m.op(collection.Households, "h5", map[string]any{syncengine.DeletedField: syncengine.Tombstone{Reason: "dup"}}), "340199001001")
	del.Base = map[string]string{syncengine.DeletedField: ""}
	ci := at(m.op(collection.Checkins, "c1", map[string]any{"at": "2026-03-01T08:00:00+08:00", "member": "m1", "village_code": "340199001001"}), "340199001001")
	ci.ReceivedAt = t0.Add(3 * time.Minute)
	apply(t, s, h1, h2, h3, h4, gone)
	apply(t, s, del, ci)
	full(t, s, false, func(tx fullTx) error {
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", []string{"h1", "h2", "h3", "h4"}},
			{"340199", []string{"h1", "h2", "h3"}},
			{"340199001", []string{"h1", "h2"}},
			{"340199001002", []string{"h2"}},
			{"4", nil},
		} {
			var ids, areas []string
			err := tx.ScanRecordsIn(collection.Households, tc.prefix, []string{"status", "head_name", "nope"}, func(id, a string, f []core.FieldView) error {
				ids, areas = append(ids, id), append(areas, a)
				if id == "h1" && (string(f[0].Value) != `"monitored"` || string(f[1].Value) != `"张三"` || f[2].Value != nil ||
					string(f[0].Author) != "wang" || string(f[0].OpID) != h1.ID || f[0].HLC != h1.HLC) {
					t.Errorf("h1 fields: %+v", f)
				}
				if id == "h3" && f[0].Value != nil {
					t.Errorf("h3 has no status, scanned %s", f[0].Value)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("ScanRecordsIn(%q) = %v, want %v (deleted h5 never shows)", tc.prefix, ids, tc.want)
			}
			for i, a := range areas {
				if len(a) < len(tc.prefix) || a[:len(tc.prefix)] != tc.prefix {
					t.Errorf("area %s of %s outside %q", a, ids[i], tc.prefix)
				}
			}
			var rows []string
			err = tx.ScanReportRows(collection.Households, tc.prefix, []string{"status", "head_name"}, func(id, _ string, f []core.FieldView) error {
				rows = append(rows, id)
				if id == "h1" && (string(f[0].Value) != `"monitored"` || f[0].HLC != h1.HLC || f[0].OpID != nil || f[1].HLC != 0) {
					t.Errorf("h1 report row: %+v", f)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if !slices.Equal(rows, tc.want) {
				t.Errorf("ScanReportRows(%q) = %v, want %v", tc.prefix, rows, tc.want)
			}
			n, err := tx.CountReportRows(collection.Households, tc.prefix)
			if err != nil || n != len(tc.want) {
				t.Errorf("CountReportRows(%q) = %d, %v, want %d", tc.prefix, n, err, len(tc.want))
			}
		}
		var all []string
		if err := tx.ForEachRecordIn(collection.Households, "340199001", func(r *syncengine.Record) error { all = append(all, r.ID); return nil }); err != nil {
			return err
		}
		if !slices.Equal(all, []string{"h1", "h2", "h5"}) {
			t.Errorf("ForEachRecordIn = %v, want the tombstoned h5 too", all)
		}
		if err := tx.ScanReportRows(collection.Households, "", []string{"phone"}, func(string, string, []core.FieldView) error { return nil }); err == nil {
			t.Error("an unprojected field was scanned from the report rows")
		}
		if err := tx.ScanReportRows("ledger", "", nil, func(string, string, []core.FieldView) error { return nil }); err == nil {
			t.Error("an unprojected collection was scanned from the report rows")
		}
		var received time.Time
		err := tx.ScanReportRows(collection.Checkins, "", []string{"at", "member"}, func(_, _ string, f []core.FieldView) error {
			received = f[0].Received
			if !f[1].Received.IsZero() {
				t.Errorf("member carries a receipt time")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !received.Equal(ci.ReceivedAt) {
			t.Errorf("check-in received %v, want %v", received, ci.ReceivedAt)
		}
		if got, ok, err := tx.OpReceivedAt(ci.ID); !ok || err != nil || !got.Equal(ci.ReceivedAt) {
			t.Errorf("OpReceivedAt = %v %v %v", got, ok, err)
		}
		if _, ok, err := tx.OpReceivedAt("nope"); ok || err != nil {
			t.Errorf("OpReceivedAt(absent) = %v %v", ok, err)
		}
		return nil
	})
}
