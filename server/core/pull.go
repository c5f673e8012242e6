package core

import (
	"context"

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
		budget, n := limit*20, 0
		last, err := tx.ChangesAfter(from, func(_ uint64, area string, raw []byte) bool {
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
		if page.More && !tx.HasChangesAfter(last) {
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
