package client

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// The upload queue.
//
// Every evidence file a record cites is queued in bucketUploads in the same
// transaction that writes the record, so the record and its upload exist
// together or not at all, and both survive a restart. The record syncs at
// once through the outbox; the file follows when Upload runs. The queue
// holds where each upload stands (its tus URL and the bytes the server
// confirmed), so a restarted tablet resumes with a HEAD instead of sending
// the file again.

// bucketUploads: 8-byte big-endian seq → storedUpload JSON, in the order
// the uploads were queued.
var bucketUploads = []byte("uploads")

// Upload classes, in the order the queue sends them.
const (
	// UploadSignature is a rendered signature image: a few KB, and a
	// signature without its image is what gets disputed, so it goes first.
	UploadSignature = "signature"
	// UploadEvidence is the compressed evidence copy of a photo (a JPEG
	// of at most photo.EvidenceSide px, photo.CompressForEvidence), small
	// enough for 2G; the photos record cites it.
	UploadEvidence = "evidence"
	// UploadOriginal is a photo as the camera wrote it. It waits for an
	// unmetered network (Options.Metered) unless UploadAll is called.
	UploadOriginal = "original"
)

// Upload states, as UploadQueue reports them.
const (
	// UploadWaiting: not sent yet, or partly sent (Sent > 0) and waiting to
	// resume.
	UploadWaiting = "waiting"
	// UploadUploading: being sent by the Upload running now.
	UploadUploading = "uploading"
	// UploadDone: the server holds every byte and verified the sha256.
	UploadDone = "done"
	// UploadFailed: the last attempt failed (Code and Reason say why); the
	// next Upload tries again.
	UploadFailed = "failed"
)

// Blob kinds as the server's tus metadata names them.
const (
	blobKindPhoto     = "photo"
	blobKindSignature = "signature"
)

// UploadItem is one queued evidence file.
type UploadItem struct {
	// ID names the item in the queue; later items have larger ids.
	ID     string
	Class  string // UploadSignature, UploadEvidence or UploadOriginal
	Kind   string // "photo" or "signature", as the server files it
	SHA256 string // hex sha256 of the whole file: its name on the server
	Size   int64
	// Sent is how many bytes the server has confirmed.
	Sent  int64
	State string // UploadWaiting, UploadUploading, UploadDone, UploadFailed
	// Code and Reason describe the last failure (a syncengine code and a
	// message); empty when the last attempt did not fail.
	Code, Reason string
	// Collection, RecordID and Area name the record the file belongs to.
	Collection, RecordID, Area string
	// Attempts counts the attempts that failed.
	Attempts int
	// Deduplicated is true when the server already had these bytes and
	// nothing was sent.
	Deduplicated bool
	// Queued and Finished are device times (Finished is zero until done).
	Queued, Finished time.Time
}

// storedUpload is a queue item as the tablet file keeps it.
type storedUpload struct {
	Seq        uint64 `json:"seq"`
	Class      string `json:"class"`
	Kind       string `json:"kind"`
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	Collection string `json:"col"`
	RecordID   string `json:"rid"`
	Area       string `json:"area"`
	// URL is the tus upload URL once created; "" before, or after the
	// server forgot the upload (expired).
	URL        string `json:"url,omitempty"`
	Offset     int64  `json:"offset,omitempty"`
	Done       bool   `json:"done,omitempty"`
	Dedup      bool   `json:"dedup,omitempty"`
	Code       string `json:"code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Failed     bool   `json:"failed,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	QueuedMs   int64  `json:"queued_ms"`
	FinishedMs int64  `json:"finished_ms,omitempty"`
}

func (u *storedUpload) item(active uint64) UploadItem {
	it := UploadItem{
		ID: strconv.FormatUint(u.Seq, 10), Class: u.Class, Kind: u.Kind, SHA256: u.SHA256, Size: u.Size,
		Sent: u.Offset, Code: u.Code, Reason: u.Reason, Collection: u.Collection, RecordID: u.RecordID,
		Area: u.Area, Attempts: u.Attempts, Deduplicated: u.Dedup, Queued: time.UnixMilli(u.QueuedMs).UTC(),
	}
	switch {
	case u.Done:
		it.State, it.Sent = UploadDone, u.Size
		it.Finished = time.UnixMilli(u.FinishedMs).UTC()
	case u.Seq == active:
		it.State = UploadUploading
	case u.Failed:
		it.State = UploadFailed
	default:
		it.State = UploadWaiting
	}
	return it
}

// classRank is the queue policy: signatures, then evidence copies, then
// originals.
func classRank(class string) int {
	switch class {
	case UploadSignature:
		return 0
	case UploadEvidence:
		return 1
	default:
		return 2
	}
}

// uploadOrder returns the items an Upload should send, in the order it
// sends them: not done; originals only when withOriginals; by class, then
// in the order they were queued.
func uploadOrder(all []*storedUpload, withOriginals bool) (run []*storedUpload, deferred int) {
	for _, u := range all {
		switch {
		case u.Done:
		case u.Class == UploadOriginal && !withOriginals:
			deferred++
		default:
			run = append(run, u)
		}
	}
	slices.SortStableFunc(run, func(a, b *storedUpload) int {
		if ra, rb := classRank(a.Class), classRank(b.Class); ra != rb {
			return ra - rb
		}
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return run, deferred
}

// enqueueTx adds an upload to the queue inside the caller's transaction.
func (c *Client) enqueueTx(tx *bolt.Tx, u *storedUpload) error {
	b := tx.Bucket(bucketUploads)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("upload queue sequence: %w", err)
	}
	u.Seq = seq
	u.QueuedMs = c.opts.DeviceClock.Now().UnixMilli()
	return putUpload(b, u)
}

func putUpload(b *bolt.Bucket, u *storedUpload) error {
	v, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode upload %d: %w", u.Seq, err)
	}
	if err := b.Put(seqKey(u.Seq), v); err != nil {
		return fmt.Errorf("store upload %d: %w", u.Seq, err)
	}
	return nil
}

func decodeUpload(k, v []byte) (*storedUpload, error) {
	var u storedUpload
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("upload %x: %w", k, err)
	}
	return &u, nil
}

// allUploads reads the whole queue in queue order.
func (c *Client) allUploads() ([]*storedUpload, error) {
	var out []*storedUpload
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		return tx.Bucket(bucketUploads).ForEach(func(k, v []byte) error {
			u, err := decodeUpload(k, v)
			if err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}

// saveUpload stores an item's new state; fn may change it from the stored
// version (read inside the transaction) before it is written back.
func (c *Client) saveUpload(seq uint64, fn func(u *storedUpload)) (*storedUpload, error) {
	var out *storedUpload
	err := c.update(func(tx *bolt.Tx, _ codec) error {
		b := tx.Bucket(bucketUploads)
		v := b.Get(seqKey(seq))
		if v == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "upload %d is no longer queued", seq)
		}
		u, err := decodeUpload(seqKey(seq), v)
		if err != nil {
			return err
		}
		fn(u)
		out = u
		return putUpload(b, u)
	})
	return out, err
}

// UploadQueue lists every queued evidence file, done ones included, in the
// order they were queued.
//
// Codes: EREVOKED.
func (c *Client) UploadQueue() ([]UploadItem, error) {
	all, err := c.allUploads()
	if err != nil {
		return nil, err
	}
	active := c.activeUpload.Load()
	out := make([]UploadItem, len(all))
	for i, u := range all {
		out[i] = u.item(active)
	}
	return out, nil
}

// pendingUploads counts queue items not done.
func pendingUploads(tx *bolt.Tx) (int, error) {
	n := 0
	b := tx.Bucket(bucketUploads)
	if b == nil {
		return 0, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		u, err := decodeUpload(k, v)
		if err != nil {
			return err
		}
		if !u.Done {
			n++
		}
		return nil
	})
	return n, err
}
