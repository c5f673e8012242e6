package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// SetBeforeCommit makes every write transaction of s call f after its
// changes are numbered and sent, just before COMMIT, while it holds the
// sequencer: tests pause a writer there.
func SetBeforeCommit(s *Store, f func()) { s.beforeCommit = f }

// OpenTraced is Open with every statement and batch the store sends
// reported to tracer.
func OpenTraced(ctx context.Context, url string, tracer pgx.QueryTracer) (*Store, error) {
	return open(ctx, url, tracer)
}
