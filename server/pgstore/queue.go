package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/core"
)

// The photo processing queue (core.BlobQueue): blobs in processing with
// their claim columns. Claims run in short transactions of their own,
// outside the sequencer, and lock the rows they take FOR UPDATE SKIP
// LOCKED, so servers claiming at once never wait on each other nor take
// the same blob. Leases are timed by the database's clock.

var _ core.BlobQueue = CoreStore{}

// ClaimBlob implements core.BlobQueue.
func (c CoreStore) ClaimBlob(owner, sha string, lease time.Duration) (bool, error) {
	var got string
	err := c.s.pool.QueryRow(context.Background(), `WITH c AS (
			SELECT sha256 FROM blobs WHERE sha256 = $2 AND status = 'processing'
			   AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $1)
			   FOR UPDATE SKIP LOCKED)
		UPDATE blobs b SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
		  FROM c WHERE b.sha256 = c.sha256 RETURNING b.sha256`, owner, sha, lease.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, markTransient(fmt.Errorf("claim blob %s: %w", sha, err))
	}
	return true, nil
}

// ClaimBlobs implements core.BlobQueue.
func (c CoreStore) ClaimBlobs(owner string, limit int, lease time.Duration) ([]string, error) {
	rows, err := c.s.pool.Query(context.Background(), `WITH c AS (
			SELECT sha256 FROM blobs WHERE status = 'processing'
			   AND (claimed_until IS NULL OR claimed_until < now())
			 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE blobs b SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
		  FROM c WHERE b.sha256 = c.sha256 RETURNING b.sha256`, owner, limit, lease.Seconds())
	if err != nil {
		return nil, markTransient(fmt.Errorf("claim blobs: %w", err))
	}
	shas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, markTransient(fmt.Errorf("claim blobs: %w", err))
	}
	return shas, nil
}

// RenewBlobClaim implements core.BlobQueue.
func (c CoreStore) RenewBlobClaim(owner, sha string, lease time.Duration) (bool, error) {
	tag, err := c.s.pool.Exec(context.Background(), `UPDATE blobs SET claimed_until = now() + make_interval(secs => $3)
		WHERE sha256 = $2 AND claimed_by = $1 AND status = 'processing'`, owner, sha, lease.Seconds())
	if err != nil {
		return false, markTransient(fmt.Errorf("renew claim on blob %s: %w", sha, err))
	}
	return tag.RowsAffected() == 1, nil
}
