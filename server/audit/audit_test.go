package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
)

// chain builds n linked entries and returns them with their stored bytes.
func chain(t testing.TB, n int) ([]*audit.Entry, [][]byte) {
	t.Helper()
	var head *audit.Entry
	var es []*audit.Entry
	var raws [][]byte
	base := time.Date(2026, 3, 1, 8, 0, 0, 123, time.UTC)
	for i := 0; i < n; i++ {
		e := &audit.Entry{Time: base.Add(time.Duration(i) * time.Minute), Kind: audit.KindPush, Actor: "officer1",
			Device: "d1", Area: "340199001",
			Detail: map[string]string{"ops": fmt.Sprint(i), "digest": fmt.Sprintf("%064x", i)}}
		if err := audit.Link(head, e); err != nil {
			t.Fatal(err)
		}
		es, raws, head = append(es, e), append(raws, e.Marshal()), e
	}
	return es, raws
}

func verify(keys []uint64, raws [][]byte) (*audit.Verifier, error) {
	var v audit.Verifier
	for i, raw := range raws {
		if err := v.Next(keys[i], raw); err != nil {
			return &v, err
		}
	}
	return &v, nil
}

func seqKeys(n int) []uint64 {
	k := make([]uint64, n)
	for i := range k {
		k[i] = uint64(i + 1)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	es, raws := chain(t, 3)
	for i, raw := range raws {
		got, err := audit.Unmarshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Marshal(), raw) || got.Seq != es[i].Seq || !got.Time.Equal(es[i].Time) || got.Detail["ops"] != es[i].Detail["ops"] {
			t.Fatalf("entry %d: round trip changed it: %+v", i, got)
		}
	}
}

// TestVerifyNamesFirstBadEntry tampers with a stored chain of 10 entries
// in every way a person with the file could: each must be named.
func TestVerifyNamesFirstBadEntry(t *testing.T) {
	_, raws := chain(t, 10)
	flip := func(i, off int) func([]uint64, [][]byte) ([]uint64, [][]byte) {
		return func(k []uint64, r [][]byte) ([]uint64, [][]byte) {
			r[i] = bytes.Clone(r[i])
			if off < 0 {
				off += len(r[i])
			}
			r[i][off] ^= 0x01
			return k, r
		}
	}
	tests := []struct {
		name   string
		tamper func([]uint64, [][]byte) ([]uint64, [][]byte)
		want   uint64 // 0: the chain verifies
	}{
		{"untouched", func(k []uint64, r [][]byte) ([]uint64, [][]byte) { return k, r }, 0},
		{"a byte of the actor of entry 4", flip(3, 1+8+8+1+len("push")+1), 4},
		{"a byte of the time of entry 7", flip(6, 12), 7},
		{"a byte of the hash of entry 5", flip(4, -1), 5},
		{"a byte of the previous hash of entry 2", flip(1, -33), 2},
		{"the version byte of entry 9", flip(8, 0), 9},
		{"entry 6 deleted", func(k []uint64, r [][]byte) ([]uint64, [][]byte) {
			return append(k[:5:5], k[6:]...), append(r[:5:5], r[6:]...)
		}, 6},
		{"entry 1 deleted", func(k []uint64, r [][]byte) ([]uint64, [][]byte) { return k[1:], r[1:] }, 1},
		{"entries 3 and 4 swapped", func(k []uint64, r [][]byte) ([]uint64, [][]byte) {
			r[2], r[3] = r[3], r[2]
			return k, r
		}, 3},
		{"entry 8 deleted and the later ones renumbered", func(k []uint64, r [][]byte) ([]uint64, [][]byte) {
			return k[:9], append(r[:7:7], r[8:]...)
		}, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := make([][]byte, len(raws))
			copy(rs, raws)
			keys, rs := tc.tamper(seqKeys(len(raws)), rs)
			_, err := verify(keys, rs)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("untouched chain: %v", err)
				}
				return
			}
			var be *audit.BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("want a BrokenError at %d, got %v", tc.want, err)
			}
			if be.Seq != tc.want {
				t.Fatalf("named entry %d (%s), want %d", be.Seq, be.Reason, tc.want)
			}
		})
	}
}

func TestAnchorCatchesCutTail(t *testing.T) {
	es, raws := chain(t, 5)
	anchor := audit.Head{Seq: 5, Hash: es[4].Hash}
	v, err := verify(seqKeys(4), raws[:4]) // entry 5 cut
	if err != nil {
		t.Fatal(err)
	}
	hashAt := func(seq uint64) []byte {
		if seq == 0 || int(seq) > 4 {
			return nil
		}
		return es[seq-1].Hash
	}
	var be *audit.BrokenError
	if err := audit.CheckAnchor(anchor, v.Head(), hashAt); !errors.As(err, &be) || be.Seq != 5 {
		t.Fatalf("cut tail: got %v", err)
	}
	if err := audit.CheckAnchor(audit.Head{Seq: 3, Hash: es[2].Hash}, v.Head(), hashAt); err != nil {
		t.Fatalf("good anchor: %v", err)
	}
	h, err := audit.ParseHead(anchor.String())
	if err != nil || h.Seq != 5 || !bytes.Equal(h.Hash, anchor.Hash) {
		t.Fatalf("ParseHead(String) = %v, %v", h, err)
	}
}

func TestLinkRefusesBadEntries(t *testing.T) {
	tests := []audit.Entry{
		{Kind: "coffee"},
		{Kind: audit.KindLogin, Actor: string(bytes.Repeat([]byte("a"), audit.MaxField+1))},
		{Kind: audit.KindLogin, Actor: "\xff"},
		{Kind: audit.KindLogin, Detail: map[string]string{"": "x"}},
	}
	for i, e := range tests {
		if err := audit.Link(nil, &e); err == nil {
			t.Errorf("case %d: linked a bad entry", i)
		}
	}
}

// FuzzUnmarshal feeds arbitrary bytes to the entry decoder: it never
// panics, and whatever it accepts encodes back to exactly the same bytes
// (the encoding is canonical, so a hash over it means one thing).
func FuzzUnmarshal(f *testing.F) {
	_, raws := chain(f, 3)
	for _, r := range raws {
		f.Add(r)
	}
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := audit.Unmarshal(b)
		if err != nil {
			if !errors.Is(err, audit.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if got := e.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", b, got)
		}
	})
}
