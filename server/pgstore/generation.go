package pgstore

// Generation tells the server's report caches whether the store changed:
// the change feed's last sequence, which every committed record write
// advances, so a report computed from the records may be reused while it
// stays the same. Writes that change no record (a photo's facts once it
// is processed, accounts, sessions) leave it; the caches also key their
// reports by the minute, so such a change reaches a cached report within
// a minute. (boltstore's Generation changes with every write.)
func (t *Tx) Generation() uint64 { return t.LastSeq() }
