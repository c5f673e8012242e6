package boltstore

// Generation returns the id of the last write transaction committed
// before this transaction began: it changes with every committed write
// (records, blobs, accounts, sessions...), so a value computed from the
// store may be reused while it stays the same.
func (t *Tx) Generation() uint64 { return uint64(t.tx.ID()) }
