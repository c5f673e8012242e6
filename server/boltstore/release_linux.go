//go:build linux

package boltstore

import "syscall"

// releaseMapped drops this process's page-table entries for the store
// file's mapping (madvise MADV_DONTNEED), so that pages a long scan read
// stop counting in the process's resident set. It changes no data: the
// mapping is shared and read-only, and bbolt writes through the file, so
// a later read maps the same page back from the page cache (a minor
// fault) with the contents it would have had anyway. Without it, a county
// report would hold every page it read in its resident set until the
// kernel reclaimed them; with it, only its own heap. Errors are ignored:
// the call only trims memory accounting.
func (t *Tx) releaseMapped() {
	db := t.tx.DB()
	info := db.Info()
	size := t.tx.Size()
	if info == nil || info.Data == 0 || size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, info.Data, uintptr(size), syscall.MADV_DONTNEED)
}
