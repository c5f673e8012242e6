package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// txConn is one connection in one transaction that run begins lazily:
// the BEGIN statement goes out in the same round trip as the
// transaction's first statement (or batch), and a write transaction's
// COMMIT in the same round trip as its writes (Tx.commitWrites). On a
// database a few milliseconds away, or a busy machine where every round
// trip waits for both processes to be scheduled, round trips are what a
// push costs.
type txConn struct {
	conn *pgx.Conn
	// begin is the BEGIN statement not yet sent ("" once sent).
	begin string
	// done: the transaction ended (its COMMIT went out with the writes).
	done bool
}

// pipelined returns b with the pending BEGIN queued first, and whether
// it was.
func (c *txConn) pipelined(b *pgx.Batch) (*pgx.Batch, bool) {
	if c.begin == "" {
		return b, false
	}
	nb := &pgx.Batch{}
	nb.Queue(c.begin)
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	c.begin = ""
	return nb, true
}

// SendBatch sends b, after the pending BEGIN if any.
func (c *txConn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	nb, began := c.pipelined(b)
	br := c.conn.SendBatch(ctx, nb)
	if began {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return failedBatch{err}
		}
	}
	return br
}

// Exec runs one statement, after the pending BEGIN if any.
func (c *txConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if c.begin == "" {
		return c.conn.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := c.SendBatch(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs one query, after the pending BEGIN if any.
func (c *txConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if c.begin == "" {
		return c.conn.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := c.SendBatch(ctx, b)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return rows, err
	}
	return batchRows{rows, br}, nil
}

// QueryRow runs one query for one row, after the pending BEGIN if any.
func (c *txConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return oneRow{rows}
}

// batchRows are the rows of a one-query batch: closing them closes the
// batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// oneRow is pgx's QueryRow over rows: the first row scanned, ErrNoRows
// when there is none, the rows closed after.
type oneRow struct{ rows pgx.Rows }

func (r oneRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// failedBatch answers every result of a batch whose BEGIN failed with
// that failure.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return errRow(f) }
func (f failedBatch) Close() error                     { return f.err }
func (failedBatch) Tx() pgx.Tx                         { return nil }
