package server_test

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// pullSeed is the standard seed plus 40 households in village V1 with a
// run of 45 households of another county between them, longer than the
// out-of-scope budget of a one-record page.
func pullSeed() ([]*syncengine.Op, []string) {
	ops := standardSeed()
	var b seedBuilder
	b.ops = ops
	var extraV1 []string
	addV1 := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("hP%02d", i)
			b.add("households", id, areaV1, createFields("households", areaV1, "seed"))
			extraV1 = append(extraV1, "households/"+id)
		}
	}
	addV1(0, 20)
	for i := 0; i < 45; i++ {
		b.add("households", fmt.Sprintf("hQ%02d", i), areaVX, createFields("households", areaVX, "seed"))
	}
	addV1(20, 40)
	return b.ops, extraV1
}

// TestPull: pages, cursors, resets and backups.
func TestPull(t *testing.T) {
	seed, extraV1 := pullSeed()
	users := []string{"wang", "zhao", "admin"}
	ts := startServer(t, serverOptions{users: pick(testUsers(), users...), seed: seed})
	wang, zhao := ts.as("wang"), ts.as("zhao")

	village := append([]string{"villages/vV1", "households/hV1a", "households/hV1b", "members/mV1a",
		"assignments/a1", "assignments/a2", "teams/tV1", "visits/visV1"}, extraV1...)
	township := append([]string{"villages/vV2", "households/hV2a", "assignments/a3"}, village...)
	slices.Sort(village)
	slices.Sort(township)

	var wangCursor string
	t.Run("pages", func(t *testing.T) {
		for _, tc := range []struct {
			s     *session
			limit int
			want  []string
		}{
			{wang, 7, township}, {wang, 0, township}, {wang, 2000, township},
			// One record per page and 20 looks per page: pages that hold
			// only out-of-scope changes come back empty with More set.
			{zhao, 1, village},
		} {
			pages, empty, cursor := 0, 0, ""
			var got []string
			for {
				p := ts.pull(tc.s, cursor, tc.limit)
				pages++
				if len(p.Records) == 0 && p.More {
					empty++
				}
				if tc.limit > 0 && len(p.Records) > tc.limit {
					t.Fatalf("page of %d records, limit %d", len(p.Records), tc.limit)
				}
				if p.Reset {
					t.Errorf("reset on a cursor the server gave")
				}
				for _, r := range p.Records {
					got = append(got, r.Collection+"/"+r.ID)
				}
				cursor = p.Cursor
				if !p.More {
					break
				}
				if pages > 500 {
					t.Fatal("pull does not end")
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s limit %d: got %d records %v\nwant %d %v", tc.s.user, tc.limit, len(got), got, len(tc.want), tc.want)
			}
			if tc.limit == 7 && pages != (len(tc.want)+6)/7 && pages != (len(tc.want)+6)/7+1 {
				t.Errorf("%d pages for %d records at 7 a page", pages, len(tc.want))
			}
			if tc.limit == 1 && empty == 0 {
				t.Errorf("no page ran out of its budget of looks: the run of out-of-scope changes was not bounded")
			}
			if tc.s == wang {
				wangCursor = cursor
			}
		}
	})

	t.Run("cursor round trip", func(t *testing.T) {
		p := ts.pull(wang, wangCursor, 0)
		if len(p.Records) != 0 || p.More || p.Reset {
			t.Fatalf("pull from the last cursor: %+v", p)
		}
		// Changes after the cursor, and only those in scope, come next;
		// a record changed twice comes once, at its last change.
		ts.push(wang, ts.op(wang, "pc-1", "households", "hV1b", areaV1, map[string]any{"address": "一"}))
		ts.push(wang, ts.op(wang, "pc-2", "households", "hP03", areaV1, map[string]any{"address": "二"}))
		ts.push(wang, ts.op(wang, "pc-3", "households", "hV1b", areaV1, map[string]any{"address": "三"}))
		applyOps(t, ts.store, ts.reg, []*syncengine.Op{{ID: "pc-out", RecordID: "hQ01", Collection: "households", Area: areaVX,
			Author: "seed", Device: "seed", HLC: ts.nextHLC(), Set: fields(map[string]any{"address": "外县"})}})
		keys, next := ts.pullAll(wang, p.Cursor, 1)
		if !slices.Equal(keys, []string{"households/hP03", "households/hV1b"}) {
			t.Errorf("changes since the cursor: %v", keys)
		}
		if got := ts.storeRecord("households", "hV1b"); jsonString(got.Fields["address"].Value) != "三" {
			t.Errorf("hV1b address %s", got.Fields["address"].Value)
		}
		if p := ts.pull(wang, next, 0); len(p.Records) != 0 || p.More {
			t.Errorf("pull after catching up: %+v", p)
		}
		wangCursor = next
	})

	t.Run("reset", func(t *testing.T) {
		last := ts.lastSeq()
		for name, cursor := range map[string]string{
			"unknown epoch":    syncengine.Cursor{Epoch: "0123456789abcdef", Seq: 3}.Encode(),
			"seq beyond store": syncengine.Cursor{Epoch: ts.store.Epoch(), Seq: last + 1}.Encode(),
		} {
			p := ts.pull(wang, cursor, 0)
			if !p.Reset {
				t.Errorf("%s: no reset", name)
			}
			var got []string
			for _, r := range p.Records {
				got = append(got, r.Collection+"/"+r.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, township) || p.More {
				t.Errorf("%s: reset pull returned %v (more %v), want everything in scope", name, got, p.More)
			}
			dec, err := syncengine.DecodeCursor(p.Cursor)
			if err != nil || dec.Epoch != ts.store.Epoch() || dec.Seq != last {
				t.Errorf("%s: cursor after reset %+v %v", name, dec, err)
			}
		}
		if p := ts.pull(wang, syncengine.Cursor{Epoch: ts.store.Epoch(), Seq: last}.Encode(), 0); p.Reset || len(p.Records) != 0 {
			t.Errorf("cursor at the last change: %+v", p)
		}
	})

	t.Run("bad cursor or limit", func(t *testing.T) {
		b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, q := range []string{
			"cursor=!!!", "cursor=" + b64("c1:abc"), "cursor=" + b64("c2:abc:1"), "cursor=" + b64("c1:abc:-1"),
			"cursor=" + b64("c1::1"), "cursor=" + b64("c1:abc:1x"), "cursor=" + strings.Repeat("A", 300),
			"limit=0", "limit=-1", "limit=2001", "limit=ten", "limit=1.5",
		} {
			ts.expectError(ts.do("GET", "/v1/sync/pull?"+q, wang.access, nil), 400, syncengine.EINVALID)
		}
	})

	t.Run("restore from backup", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "backup.db")
		if err := ts.store.Backup(path); err != nil {
			t.Fatal(err)
		}
		if err := ts.store.Backup(path); err == nil {
			t.Errorf("backup over an existing file succeeded")
		}
		// A change the restored server will not have.
		ts.push(wang, ts.op(wang, "after-backup", "households", "hV1b", areaV1, map[string]any{"address": "四"}))
		_, latest := ts.pullAll(wang, wangCursor, 0)

		restored := startServer(t, serverOptions{path: path})
		if restored.store.Epoch() == ts.store.Epoch() || restored.store.Epoch() == "" {
			t.Fatalf("restored epoch %q, original %q", restored.store.Epoch(), ts.store.Epoch())
		}
		// The tablet's token and device survive the restore; its cursor
		// does not.
		for _, cursor := range []string{wangCursor, latest} {
			p := restored.pull(wang, cursor, 0)
			if !p.Reset || len(p.Records) != len(township) {
				t.Errorf("pull from a restored server with cursor %s: reset %v, %d records", cursor, p.Reset, len(p.Records))
			}
		}
		if got := restored.storeRecord("households", "hV1b"); jsonString(got.Fields["address"].Value) != "三" {
			t.Errorf("restored hV1b address %s, want the value at backup time", got.Fields["address"].Value)
		}
	})
}
