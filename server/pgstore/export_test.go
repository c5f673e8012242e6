package pgstore

// SetBeforeCommit makes every write transaction of s call f after its
// changes are numbered and sent, just before COMMIT, while it holds the
// sequencer: tests pause a writer there.
func SetBeforeCommit(s *Store, f func()) { s.beforeCommit = f }
