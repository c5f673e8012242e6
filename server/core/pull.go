package core

import (
	"context"
	"slices"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// PullPage is where a pull stopped: the cursor to pull from next, whether
// more changes wait, and whether the cursor was of another lineage (or
// from the future) so the page starts over from the beginning.
type PullPage struct {
	Cursor string
	More   bool
	Reset  bool
}

// Pull calls each, in change order, with the wire JSON of up to limit
// records in caller's scope changed since cursor ("" for everything);
// raw is valid only during the call. limit 0 means
// syncengine.DefaultPullLimit. Out-of-scope changes are skipped but cost a
// look, so a page stops after 20×limit looks with More set: the cost of a
// pull follows what changed, never the store's size.
//
// When the store offers a ScopedFeed and every scope of the caller is a
// county or smaller, the walk reads only the changes of the caller's
// counties (the others are neither read nor counted); otherwise it walks
// the whole feed.
//
// The error is EINVALID for a malformed cursor or a limit outside 1 to
// syncengine.MaxPullLimit, ETRANSIENT or EINTERNAL for store failures.
func (c *Core) Pull(ctx context.Context, caller Caller, cursor string, limit int, each func(raw []byte)) (PullPage, error) {
	cur, err := syncengine.DecodeCursor(cursor)
	if err != nil {
		return PullPage{}, err
	}
	if limit == 0 {
		limit = syncengine.DefaultPullLimit
	}
	if limit < 1 || limit > syncengine.MaxPullLimit {
		return PullPage{}, errInvalid("limit must be 1 to %d", syncengine.MaxPullLimit)
	}
	var page PullPage
	epoch := c.store.Epoch()
	err = c.store.View(func(tx Tx) error {
		page = PullPage{}
		from := cur.Seq
		if cur.Epoch != "" && (cur.Epoch != epoch || cur.Seq > tx.LastSeq()) {
			page.Reset, from = true, 0
		}
		walk, more := tx.ChangesAfter, tx.HasChangesAfter
		if feed, ok := tx.(ScopedFeed); ok {
			if counties := countiesOf(caller.Scopes); counties != nil {
				walk = func(seq uint64, fn func(uint64, string, []byte) bool) (uint64, error) {
					return feed.ChangesAfterIn(seq, counties, fn)
				}
				more = func(seq uint64) bool { return feed.HasChangesAfterIn(seq, counties) }
			}
		}
		budget, n := limit*20, 0
		last, err := walk(from, func(_ uint64, area string, raw []byte) bool {
			budget--
			if auth.InScope(caller.Scopes, area) {
				each(raw)
				n++
			}
			if n >= limit || budget <= 0 {
				page.More = true
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if page.More && !more(last) {
			page.More = false
		}
		page.Cursor = syncengine.Cursor{Epoch: epoch, Seq: last}.Encode()
		return nil
	})
	if err != nil {
		return PullPage{}, c.storeErr(ctx, "pull", err)
	}
	return page, nil
}

// countiesOf returns the counties the scopes lie in, sorted and without
// repeats, or nil when a scope is wider than a county (or there is none).
func countiesOf(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if len(s) < CountyLen {
			return nil
		}
		out = append(out, s[:CountyLen])
	}
	slices.Sort(out)
	return slices.Compact(out)
}
