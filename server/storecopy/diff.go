package storecopy

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// maxDifferences bounds the list Diff returns.
const maxDifferences = 20

// Diff compares two stores kind by kind: the order of their change feeds,
// every record's merged state, every record's history (ops with their
// flags, stated stamps, receive times and digests), conflicts with their
// resolutions, accounts, devices, blob facts, uploads and audit entries
// (with their chain hashes). Sequence numbers
// and epochs are not compared: each store hands out its own. Times are
// compared as instants. It returns up to 20 differences, none when the
// stores hold the same.
func Diff(a, b core.Store) ([]string, error) {
	var out []string
	err := a.View(func(atx core.Tx) error {
		return b.View(func(btx core.Tx) error {
			sa, err := snapshot(atx)
			if err != nil {
				return fmt.Errorf("first store: %w", err)
			}
			sb, err := snapshot(btx)
			if err != nil {
				return fmt.Errorf("second store: %w", err)
			}
			out = compare(sa, sb)
			return nil
		})
	})
	return out, err
}

// contents is a store's data in canonical JSON, by kind and key, with the
// change feed's order.
type contents struct {
	feed  []string
	kinds map[string]map[string]string // kind -> key -> canonical JSON
}

func (c *contents) put(kind, key string, v any) error {
	s, err := canonical(v)
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, key, err)
	}
	if c.kinds[kind] == nil {
		c.kinds[kind] = map[string]string{}
	}
	c.kinds[kind][key] = s
	return nil
}

// snapshot reads every kind of tx.
func snapshot(tx core.Tx) (*contents, error) {
	c := &contents{kinds: map[string]map[string]string{}}
	keys, err := feedKeys(tx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		key := k.collection + "/" + k.id
		c.feed = append(c.feed, key)
		rec, err := tx.Record(k.collection, k.id)
		if err != nil {
			return nil, fmt.Errorf("read record %s: %w", key, err)
		}
		if rec == nil {
			return nil, fmt.Errorf("record %s is in the change feed but not stored", key)
		}
		if err := c.put("record", key, rec.ToWire()); err != nil {
			return nil, err
		}
		hist, err := tx.History(k.collection, k.id)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", key, err)
		}
		ops := make([]any, len(hist))
		for i, op := range hist {
			ops[i] = struct {
				Op         syncengine.WireOp `json:"op"`
				Flags      []string          `json:"flags"`
				StatedHLC  uint64            `json:"stated_hlc"`
				ReceivedAt time.Time         `json:"received_at"`
				Digest     string            `json:"digest"`
			}{op.ToWire(), op.Flags, uint64(op.StatedHLC), op.ReceivedAt, syncengine.OpDigest(op)}
		}
		if err := c.put("history", key, ops); err != nil {
			return nil, err
		}
	}
	var conflicts []*syncengine.Conflict
	if err := tx.Conflicts(func(cf *syncengine.Conflict) bool { conflicts = append(conflicts, cf); return true }); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	for _, cf := range conflicts {
		if err := c.put("conflict", cf.ID, cf); err != nil {
			return nil, err
		}
	}
	users, err := tx.Users()
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	for _, u := range users {
		if err := c.put("user", u.Username, u); err != nil {
			return nil, err
		}
	}
	devices, err := tx.Devices()
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	for _, d := range devices {
		if err := c.put("device", d.ID, d); err != nil {
			return nil, err
		}
	}
	if btx, ok := tx.(core.BlobTx); ok {
		var blobs []*core.Blob
		if err := btx.Blobs(func(b *core.Blob) bool { blobs = append(blobs, b); return true }); err != nil {
			return nil, fmt.Errorf("read blobs: %w", err)
		}
		for _, b := range blobs {
			if err := c.put("blob", b.SHA256, b); err != nil {
				return nil, err
			}
		}
	}
	if utx, ok := tx.(core.UploadTx); ok {
		var ups []*core.Upload
		if err := utx.Uploads(func(u *core.Upload) bool { ups = append(ups, u); return true }); err != nil {
			return nil, fmt.Errorf("read uploads: %w", err)
		}
		for _, u := range ups {
			if err := c.put("upload", u.ID, u); err != nil {
				return nil, err
			}
		}
	}
	if atx, ok := tx.(core.AuditTx); ok {
		var entries []*audit.Entry
		if err := atx.AuditEntries(0, func(e *audit.Entry) bool { entries = append(entries, e); return true }); err != nil {
			return nil, fmt.Errorf("read the audit chain: %w", err)
		}
		for _, e := range entries {
			if err := c.put("audit", fmt.Sprint(e.Seq), e); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// compare lists the differences between two snapshots.
func compare(a, b *contents) []string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < maxDifferences {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	for i := 0; i < len(a.feed) || i < len(b.feed); i++ {
		var x, y string
		if i < len(a.feed) {
			x = a.feed[i]
		}
		if i < len(b.feed) {
			y = b.feed[i]
		}
		if x != y {
			add("change feed position %d: %q and %q", i+1, x, y)
			break
		}
	}
	for _, kind := range []string{"record", "history", "conflict", "user", "device", "blob", "upload", "audit"} {
		ka, kb := a.kinds[kind], b.kinds[kind]
		for key, va := range ka {
			vb, ok := kb[key]
			switch {
			case !ok:
				add("%s %s only in the first store", kind, key)
			case va != vb:
				add("%s %s differs:\n  %s\n  %s", kind, key, va, vb)
			}
		}
		for key := range kb {
			if _, ok := ka[key]; !ok {
				add("%s %s only in the second store", kind, key)
			}
		}
	}
	return out
}

// canonical is v as JSON with every RFC 3339 time rewritten in UTC, so an
// instant reads the same whichever zone a store returned it in.
func canonical(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return "", err
	}
	out, err := json.Marshal(utcTimes(generic))
	return string(out), err
}

func utcTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = utcTimes(e)
		}
	case []any:
		for i, e := range x {
			x[i] = utcTimes(e)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}
