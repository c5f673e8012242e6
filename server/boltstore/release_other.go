//go:build !linux

package boltstore

// releaseMapped is a no-op where madvise is not used (see the Linux
// version).
func (t *Tx) releaseMapped() {}
