package boltstore

import (
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// preparedWrite is the stored form of an op, and of the record it creates,
// written ahead of the write transaction but for their sequences, which
// only the transaction hands out (CoreStore.PrepareWrite): appending a
// sequence to a head costs a copy where encoding cost a walk of the
// fields, their sorting and escaping, so the work leaves the one
// goroutine that writes.
type preparedWrite struct {
	op  *syncengine.Op
	rec *syncengine.Record // nil: nothing prepared for a record
	// opHead is appendOpHead's, with room after it for the sequence and
	// opTail (appendOpTail's); recHead is appendRecordHead's, with room
	// for the sequence.
	opHead, opTail, recHead []byte
}

// seqRoom is what a sequence takes in a stored form, at most.
const seqRoom = len(`,"seq":18446744073709551615}`)

// PrepareWrite implements core.WritePreparer: it writes the stored forms of
// op and of rec (the record op creates, nil when it changes one) but for
// their sequences. op and rec must not change after.
func (c CoreStore) PrepareWrite(op *syncengine.Op, rec *syncengine.Record) any {
	p := &preparedWrite{op: op, rec: rec}
	// Each head gets the room for the rest in its one allocation.
	p.opTail = appendOpTail(nil, op)
	p.opHead = appendOpHead(make([]byte, 0, opSize(op)+seqRoom+len(p.opTail)), op)
	if rec != nil {
		p.recHead = appendRecordHead(make([]byte, 0, recordSize(rec)+seqRoom), rec)
	}
	return p
}

// WillApply implements core.PreparedTx: what PrepareWrite gave for op is
// used by the AddOp and PutRecord of op that follow, if they store op and
// the very record prepared.
func (t coreTx) WillApply(op *syncengine.Op, prepared any) {
	p, _ := prepared.(*preparedWrite)
	if p != nil && p.op != op {
		p = nil
	}
	t.prepared = p
}

// preparedOp returns the stored form of op at seq from what was prepared
// for it, or nil.
func (t *Tx) preparedOp(op *syncengine.Op, seq uint64) []byte {
	p := t.prepared
	if p == nil || p.op != op {
		return nil
	}
	// The room after the head is this transaction's: a transaction run
	// again writes it again, and bbolt holds a value only until commit.
	return append(appendOpSeq(p.opHead, seq), p.opTail...)
}

// preparedRecord returns the stored form of rec, op's new state, at seq
// from what was prepared for op, or nil.
func (t *Tx) preparedRecord(rec *syncengine.Record, op *syncengine.Op, seq uint64) []byte {
	p := t.prepared
	if p == nil || p.op != op || p.rec == nil || p.rec != rec {
		return nil
	}
	return appendRecordSeq(p.recHead, seq)
}

var (
	_ core.WritePreparer = CoreStore{}
	_ core.PreparedTx    = coreTx{}
)
