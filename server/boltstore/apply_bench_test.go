package boltstore_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// BenchmarkApplyVisit measures applying one new visit op (about 850 bytes
// of JSON) inside the store, batched 1,000 to a transaction, fsync off so
// the figure is the CPU cost of the store path.
func BenchmarkApplyVisit(b *testing.B) {
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "b.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	set := map[string]json.RawMessage{
		"household_id": json.RawMessage(`"h-1"`), "officer": json.RawMessage(`"wang"`),
		"visited_at":    json.RawMessage(`"2026-11-20T08:00:00Z"`),
		"gps":           json.RawMessage(`{"lat":31.70512,"lon":117.14021,"accuracy_m":8.5}`),
		"checklist":     json.RawMessage(`{"food":"ok","clothing":"ok","education":"ok","medical":"problem","housing":"ok","drinking_water":"ok"}`),
		"notes":         json.RawMessage(`"户主在家，家中老人慢性病需定期复查，已联系村医上门随访；孩子在镇中学就读，享受两免一补；饮水安全，房屋经鉴定为安全住房。"`),
		"photo_sha256s": json.RawMessage(`["8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4","8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa5","8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa6"]`),
	}
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		err := store.UpdateSolo(func(tx *boltstore.Tx) error {
			for j := i; j < min(i+1000, b.N); j++ {
				op := &syncengine.Op{ID: fmt.Sprintf("op-%09d", j), RecordID: fmt.Sprintf("v-%09d", j), Collection: "visits", Area: "340199001001",
					Author: "wang", Device: "d1", HLC: syncengine.MakeHLC(int64(j+1), 0), Set: set, ReceivedAt: now}
				if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{AppendOnly: true}, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyUpdate measures an op that changes one field of an existing
// household after seeing its current version (a sequential edit: the record
// is read, merged and rewritten, no conflict), 1,000 to a transaction, fsync
// off.
func BenchmarkApplyUpdate(b *testing.B) {
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "b.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	const households = 1000
	err = store.UpdateSolo(func(tx *boltstore.Tx) error {
		for j := 0; j < households; j++ {
			op := &syncengine.Op{ID: fmt.Sprintf("c-%06d", j), RecordID: fmt.Sprintf("h-%06d", j), Collection: "households", Area: "340199001001",
				Author: "wang", Device: "d1", HLC: syncengine.MakeHLC(int64(j+1), 0), ReceivedAt: now,
				Set: map[string]json.RawMessage{"head_name": json.RawMessage(`"张建国"`), "status": json.RawMessage(`{"value":"exited","year":2019}`),
					"address": json.RawMessage(`"桃园村1组11号"`), "phone": json.RawMessage(`"13805511000"`), "member_count": json.RawMessage(`4`)}}
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	lastPhoneOp := make([]string, households)
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		err := store.UpdateSolo(func(tx *boltstore.Tx) error {
			for j := i; j < min(i+1000, b.N); j++ {
				op := &syncengine.Op{ID: fmt.Sprintf("u-%09d", j), RecordID: fmt.Sprintf("h-%06d", j%households), Collection: "households", Area: "340199001001",
					Author: "wang", Device: "d1", HLC: syncengine.MakeHLC(int64(households+j+1), 0), ReceivedAt: now,
					Set:  map[string]json.RawMessage{"phone": json.RawMessage(fmt.Sprintf(`"1390551%04d"`, j%10000))},
					Base: map[string]string{"phone": lastPhoneOp[j%households]}}
				if lastPhoneOp[j%households] == "" {
					op.Base["phone"] = fmt.Sprintf("c-%06d", j%households)
				}
				res, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, now)
				if err != nil {
					return err
				}
				if len(res.Conflicts) > 0 {
					b.Fatalf("a sequential edit opened a conflict")
				}
				lastPhoneOp[j%households] = op.ID
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
