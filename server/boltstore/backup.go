package boltstore

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store to path while it keeps
// serving, then gives the copy a new epoch. A store restored from that copy
// therefore never recognises cursors that tablets got after the backup: they
// are told to resynchronise in full (and re-send what the restored server
// lost) instead of trusting sequence numbers that would now mean other
// changes.
func (s *Store) Backup(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return fmt.Errorf("backup: reopen copy: %w", err)
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyEpoch, []byte(randomHex(8)))
	})
}
