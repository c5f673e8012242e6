package uploads

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// PathPrefix is where the tus endpoint is mounted: POST creates at
// PathPrefix, each upload lives at PathPrefix + "/" + id.
const PathPrefix = "/v1/uploads"

// Kinds of evidence blob.
const (
	KindPhoto     = "photo"
	KindSignature = "signature"
)

// Options tune the service. Every zero value means the default named on
// the field.
type Options struct {
	// MaxSize bounds Upload-Length in bytes (413 beyond). Zero means 25 MiB.
	MaxSize int64
	// Expiry is how long an unfinished upload is kept after its last
	// accepted chunk (tus expiration). Zero means 7 days: tablets may stay
	// offline for days in the middle of an upload.
	Expiry time.Duration
	// MaxChecksumChunk bounds a PATCH body that carries Upload-Checksum:
	// such a chunk is held in memory until its digest is checked, so
	// nothing unverified is appended. Zero means 8 MiB.
	MaxChecksumChunk int64
	// Workers is how many photos are processed at once. Zero means 2.
	Workers int
	// Photo configures image processing (pixel limit, preview size...).
	Photo photo.Options
	// LockWait is how long a request waits for another request on the
	// same upload to let go before answering 423. Zero means 10 seconds.
	LockWait time.Duration
	// SweepEvery is how often expired uploads are removed in the
	// background. Zero means one hour; negative turns the sweeper off
	// (Sweep can still be called).
	SweepEvery time.Duration
	// RetryEvery is how long processing waits before retrying a blob
	// whose store was unavailable. Zero means 30 seconds.
	RetryEvery time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Instance names this server in the claims of a shared photo queue
	// (core.BlobQueue) and in its logs. Empty means host, process id and
	// a random suffix.
	Instance string
	// Lease is how long a claim on a blob being processed lasts without
	// renewal; a server renews its claims every third of it, so a blob
	// whose server died is taken up by another after at most Lease. Zero
	// means 2 minutes.
	Lease time.Duration
	// ClaimEvery is how often an idle server looks in a shared photo
	// queue for blobs nobody holds. Zero means 10 seconds or half the
	// lease, whichever is shorter.
	ClaimEvery time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = 25 << 20
	}
	if o.Expiry <= 0 {
		o.Expiry = 7 * 24 * time.Hour
	}
	if o.MaxChecksumChunk <= 0 {
		o.MaxChecksumChunk = 8 << 20
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.LockWait <= 0 {
		o.LockWait = 10 * time.Second
	}
	if o.SweepEvery == 0 {
		o.SweepEvery = time.Hour
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newUploadID()[:6])
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.ClaimEvery <= 0 {
		o.ClaimEvery = min(10*time.Second, o.Lease/2)
	}
	return o
}

// Caller is the authenticated user of a request.
type Caller struct {
	Username string
	Role     string
	Scopes   []string
}

// Identify returns the caller of an authenticated request, false when the
// request carries no identity (the route was mounted without auth).
type Identify func(c *fiber.Ctx) (Caller, bool)

// Service is the tus endpoint and the blob pipeline behind it. Create it
// with New and stop it with Close.
type Service struct {
	log      *slog.Logger
	store    core.Store
	blobs    assets.Store
	identify Identify
	opts     Options

	locks uploadLocks
	proc  *photo.Processor
	queue jobQueue
	// claims is the store's shared photo queue; nil when the store is
	// one process's (the local queue is then the whole queue).
	claims core.BlobQueue

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New starts the service: its processing workers, the expired-upload
// sweeper, and a rescan that re-queues blobs a previous run left in
// processing. When the store is shared by several servers (it implements
// core.BlobQueue), a worker processes only blobs it claimed, and the rescan
// is a poll of the queue for blobs nobody holds. All of log, store, blobs and identify are required.
func New(log *slog.Logger, store core.Store, blobs assets.Store, identify Identify, opts Options) *Service {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		log: log, store: store, blobs: blobs, identify: identify, opts: opts,
		proc:  photo.NewProcessor(opts.Photo, opts.Workers),
		queue: newJobQueue(),
		stop:  cancel,
	}
	s.claims, _ = store.(core.BlobQueue)
	for i := 0; i < opts.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.work(ctx)
		}()
	}
	if s.claims != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.pollClaims(ctx)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.claims == nil {
			s.requeueUnfinished()
		}
		if opts.SweepEvery < 0 {
			return
		}
		t := time.NewTicker(opts.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := s.Sweep(ctx); err != nil {
					s.log.Warn("sweep expired uploads", "removed", n, "err", err)
				}
			}
		}
	}()
	return s
}

// Close stops the workers and the sweeper and waits for them. A blob being
// processed stays in status processing and is taken up again by the next
// New over the same store.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

func newUploadID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// Protocol is the middleware of every tus route: it stamps Tus-Resumable
// on each response (errors included), refuses other protocol versions with
// 412, and closes the connection when a handler answered without reading
// the whole request body (the unread rest must not be taken for the next
// request on a kept-alive connection).
func (s *Service) Protocol(c *fiber.Ctx) error {
	c.Set("Tus-Resumable", TusVersion)
	var err error
	if c.Method() != fiber.MethodOptions && c.Get("Tus-Resumable") != TusVersion {
		c.Set("Tus-Version", TusVersion)
		err = fail(fiber.StatusPreconditionFailed, syncengine.EINVALID,
			"Tus-Resumable header must be %s (got %q)", TusVersion, c.Get("Tus-Resumable"))
	} else {
		err = c.Next()
	}
	if c.Request().Header.ContentLength() != 0 && !bodyConsumed(c) {
		c.Set(fiber.HeaderConnection, "close")
	}
	return err
}

// HandleOptions answers tus discovery (no authentication: it tells only
// what the server supports).
func (s *Service) HandleOptions(c *fiber.Ctx) error {
	c.Set("Tus-Version", TusVersion)
	c.Set("Tus-Extension", TusExtensions)
	c.Set("Tus-Max-Size", strconv.FormatInt(s.opts.MaxSize, 10))
	c.Set("Tus-Checksum-Algorithm", ChecksumAlgorithms)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) caller(c *fiber.Ctx) (Caller, error) {
	who, ok := s.identify(c)
	if !ok {
		return Caller{}, fail(fiber.StatusUnauthorized, syncengine.EUNAUTHORIZED, "a bearer access token is required")
	}
	return who, nil
}

// creation is what a POST asks for, checked.
type creation struct {
	length                   int64
	sha, kind                string
	collection, record, area string
}

func parseCreation(c *fiber.Ctx, maxSize int64) (creation, error) {
	var cr creation
	if c.Get("Upload-Defer-Length") != "" {
		return cr, errInvalid("Upload-Defer-Length is not supported: send Upload-Length")
	}
	length, err := ParseOffset(c.Get("Upload-Length"))
	if err != nil {
		return cr, errInvalid("Upload-Length: %v", err)
	}
	if length > maxSize {
		return cr, fail(fiber.StatusRequestEntityTooLarge, syncengine.ETOOLARGE, "upload of %d bytes exceeds the limit of %d", length, maxSize)
	}
	if length == 0 {
		return cr, errInvalid("Upload-Length must be at least 1: evidence is never empty")
	}
	meta, err := ParseMetadata(c.Get("Upload-Metadata"))
	if err != nil {
		return cr, errInvalid("Upload-Metadata: %v", err)
	}
	cr = creation{length: length, sha: strings.ToLower(meta["sha256"]), kind: meta["kind"],
		collection: meta["collection"], record: meta["record_id"], area: meta["area"]}
	if !assets.ValidSHA256(cr.sha) {
		return cr, errInvalid("metadata sha256 must be the hex sha256 of the whole file")
	}
	if cr.kind != KindPhoto && cr.kind != KindSignature {
		return cr, errInvalid("metadata kind must be %s or %s", KindPhoto, KindSignature)
	}
	if !validID(cr.collection) || !validID(cr.record) {
		return cr, errInvalid("metadata collection and record_id are required (1 to %d printable characters, no '/')", syncengine.MaxIDLen)
	}
	if !syncengine.ValidAreaCode(cr.area) {
		return cr, errInvalid("metadata area must be the record's 12-digit area code")
	}
	return cr, nil
}

func validID(id string) bool {
	if id == "" || len(id) > syncengine.MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] == '/' || id[i] > '~' {
			return false
		}
	}
	return true
}

// authorize checks that the caller may attach evidence to the record: the
// role writes that collection and the claimed area is in scope. A record
// the server holds in another area of the caller's scope is refused (the
// caller can see it, so saying so leaks nothing); a record outside the
// caller's scope is treated exactly like an unknown one, which is accepted
// (files may arrive before their record): answering otherwise would tell
// the caller that the record exists. The reference the upload adds names
// the claimed area, so it grants sight of the bytes only to that area,
// which is the caller's own.
func (s *Service) authorize(who Caller, cr creation) error {
	if !auth.CanWrite(who.Role, cr.collection) {
		return errForbidden("role %s may not attach evidence to %s", who.Role, cr.collection)
	}
	if !auth.InScope(who.Scopes, cr.area) {
		return errForbidden("area %s is outside your scope", cr.area)
	}
	var recArea string
	err := s.view(func(tx Tx) error {
		rec, err := tx.Record(cr.collection, cr.record)
		if rec != nil {
			recArea = rec.Area
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("look up record %s/%s: %w", cr.collection, cr.record, err)
	}
	if recArea != "" && recArea != cr.area && auth.InScope(who.Scopes, recArea) {
		return errInvalid("record %s/%s is in area %s, not %s", cr.collection, cr.record, recArea, cr.area)
	}
	return nil
}

// HandleCreate is tus creation (POST), with creation-with-upload when the
// request carries a body. Knowing a blob's sha256 never grants its bytes:
// an upload naming a verified blob completes at once (Upload-Offset equal
// to Upload-Length, nothing sent) only when the caller can already read
// that blob (a reference of it lies in the caller's scope). Anyone else
// proves possession by sending the bytes as for a new blob; the server
// checks their sha256 when the last byte arrives, and only then adds the
// reference (storage stays deduplicated: the verified bytes land on the
// same content address).
func (s *Service) HandleCreate(c *fiber.Ctx) error {
	who, err := s.caller(c)
	if err != nil {
		return err
	}
	cr, err := parseCreation(c, s.opts.MaxSize)
	if err != nil {
		return err
	}
	if err := s.authorize(who, cr); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	u := &core.Upload{ID: newUploadID(), Owner: who.Username, Length: cr.length, SHA256: cr.sha, Kind: cr.kind,
		Collection: cr.collection, RecordID: cr.record, Area: cr.area, CreatedAt: now, ExpiresAt: now.Add(s.opts.Expiry)}
	release, err := s.locks.acquire(c.UserContext(), u.ID, s.opts.LockWait, interruptRead(c))
	if err != nil {
		return err
	}
	defer release()
	dedup, err := s.existing(c.UserContext(), cr.sha, cr.length, who.Scopes)
	if err != nil {
		return err
	}
	if dedup {
		u.Done, u.Offset = true, u.Length
	}
	err = s.update(func(tx Tx) error {
		if dedup {
			b, err := tx.Blob(cr.sha)
			if err != nil {
				return err
			}
			if b == nil || !b.VisibleTo(who.Scopes) {
				// Gone or re-scoped since existing looked: no proof, no
				// reference. The upload stays open for the bytes.
				u.Done, u.Offset = false, 0
				dedup = false
				return tx.PutUpload(u)
			}
			if b.AddRef(s.ref(u, now)) {
				if err := tx.PutBlob(b); err != nil {
					return err
				}
			}
		}
		return tx.PutUpload(u)
	})
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	c.Set(fiber.HeaderLocation, PathPrefix+"/"+u.ID)
	s.setExpires(c, u)
	if !dedup && hasBody(c) {
		if c.Get(fiber.HeaderContentType) != OffsetContentType {
			return fail(fiber.StatusUnsupportedMediaType, syncengine.EINVALID, "upload data must be sent as %s", OffsetContentType)
		}
		if _, err := s.appendChunk(c, u, 0); err != nil {
			return err
		}
	}
	c.Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
	return c.SendStatus(fiber.StatusCreated)
}

// existing reports whether a verified blob of that sha256 and length is
// already stored and readable by a caller with these scopes, so that the
// upload may complete at once (dedup). A blob the caller cannot read is
// not existing for it: it must prove possession by sending the bytes. A
// blob the records know but the store lost is not existing either: the
// upload brings it back.
func (s *Service) existing(ctx context.Context, sha string, length int64, scopes []string) (bool, error) {
	var b *core.Blob
	if err := s.view(func(tx Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		return false, fmt.Errorf("look up blob %s: %w", sha, err)
	}
	if b == nil || b.Size != length || !b.VisibleTo(scopes) {
		return false, nil
	}
	size, err := s.blobs.Stat(ctx, assets.OriginalKey(sha))
	switch {
	case err == nil:
		return size == length, nil
	case errors.Is(err, assets.ErrNotFound):
		return false, nil
	case assets.IsTransient(err):
		return false, errTransient("check for an existing blob")
	default:
		return false, fmt.Errorf("stat blob %s: %w", sha, err)
	}
}

func (s *Service) ref(u *core.Upload, at time.Time) core.BlobRef {
	return core.BlobRef{Collection: u.Collection, RecordID: u.RecordID, Area: u.Area, UploadedBy: u.Owner, UploadedAt: at}
}

func (s *Service) setExpires(c *fiber.Ctx, u *core.Upload) {
	if !u.Done {
		c.Set("Upload-Expires", u.ExpiresAt.UTC().Format(time.RFC1123))
	}
}

// load takes the upload's lock and returns it, checking owner and expiry.
// interrupt is how a later request on the same upload stops this one.
func (s *Service) load(c *fiber.Ctx, interrupt func()) (*core.Upload, func(), error) {
	who, err := s.caller(c)
	if err != nil {
		return nil, nil, err
	}
	id := c.Params("id")
	if !assets.ValidUploadID(id) {
		return nil, nil, errNotFound("no upload %s", id)
	}
	release, err := s.locks.acquire(c.UserContext(), id, s.opts.LockWait, interrupt)
	if err != nil {
		return nil, nil, err
	}
	var u *core.Upload
	if err := s.view(func(tx Tx) (err error) { u, err = tx.Upload(id); return err }); err != nil {
		release()
		return nil, nil, fmt.Errorf("load upload %s: %w", id, err)
	}
	if u == nil {
		release()
		return nil, nil, errNotFound("no upload %s", id)
	}
	if u.Owner != who.Username {
		// Another user's upload looks exactly like an unknown one.
		release()
		return nil, nil, errNotFound("no upload %s", id)
	}
	if s.opts.Now().After(u.ExpiresAt) {
		err := s.expire(c.UserContext(), u)
		release()
		if err != nil {
			s.log.Warn("remove expired upload", "upload", id, "err", err)
		}
		return nil, nil, fail(fiber.StatusGone, syncengine.ENOTFOUND, "upload %s expired; start a new one", id)
	}
	return u, release, nil
}

// expire removes an expired upload: its staged bytes, then its record.
func (s *Service) expire(ctx context.Context, u *core.Upload) error {
	if !u.Done {
		if err := s.blobs.AbortUpload(ctx, u.ID); err != nil {
			return fmt.Errorf("abort expired upload %s: %w", u.ID, err)
		}
	}
	return s.update(func(tx Tx) error { return tx.DeleteUpload(u.ID) })
}

// Sweep removes every upload past its expiry that no request holds, and
// returns how many it removed. The background sweeper calls it; tests and
// operators may too.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.opts.Now()
	var expired []*core.Upload
	err := s.view(func(tx Tx) error {
		return tx.Uploads(func(u *core.Upload) bool {
			if now.After(u.ExpiresAt) {
				expired = append(expired, u)
			}
			return true
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sweep uploads: %w", err)
	}
	n := 0
	var errs []error
	for _, u := range expired {
		release, ok := s.locks.tryAcquire(u.ID)
		if !ok {
			continue
		}
		if err := s.expire(ctx, u); err != nil {
			errs = append(errs, err)
		} else {
			n++
		}
		release()
	}
	return n, errors.Join(errs...)
}

// stagedOffset is how many bytes upload u holds. When the store cannot
// tell, it is the offset last recorded, with ok false.
func (s *Service) stagedOffset(ctx context.Context, u *core.Upload) (int64, bool, error) {
	if u.Done {
		return u.Length, true, nil
	}
	n, err := s.blobs.UploadSize(ctx, u.ID)
	switch {
	case err == nil:
		return n, true, nil
	case assets.IsTransient(err):
		return u.Offset, false, nil
	default:
		return 0, false, fmt.Errorf("size of upload %s: %w", u.ID, err)
	}
}

// HandleHead tells the upload's offset (tus core). While the blob store is
// down it answers with the offset last recorded.
func (s *Service) HandleHead(c *fiber.Ctx) error {
	u, release, err := s.load(c, nil)
	if err != nil {
		return err
	}
	defer release()
	c.Set(fiber.HeaderCacheControl, "no-store")
	off, known, err := s.stagedOffset(c.UserContext(), u)
	if err != nil {
		return err
	}
	if known && off == u.Length && !u.Done {
		// Every byte arrived but the commit did not happen (store down or
		// a crash): finish now, or the client would believe it is done.
		if err := s.finish(c.UserContext(), u); err != nil {
			return err
		}
	}
	if known && off != u.Offset && !u.Done {
		u.Offset = off
		if err := s.update(func(tx Tx) error { return tx.PutUpload(u) }); err != nil {
			return fmt.Errorf("record offset of %s: %w", u.ID, err)
		}
	}
	c.Set("Upload-Offset", strconv.FormatInt(off, 10))
	c.Set("Upload-Length", strconv.FormatInt(u.Length, 10))
	c.Set("Upload-Metadata", EncodeMetadata([]string{"sha256", "kind", "collection", "record_id", "area"}, map[string]string{
		"sha256": u.SHA256, "kind": u.Kind, "collection": u.Collection, "record_id": u.RecordID, "area": u.Area}))
	s.setExpires(c, u)
	return c.SendStatus(fiber.StatusOK)
}

// HandlePatch appends a chunk (tus core, checksum).
func (s *Service) HandlePatch(c *fiber.Ctx) error {
	if c.Get(fiber.HeaderContentType) != OffsetContentType {
		return fail(fiber.StatusUnsupportedMediaType, syncengine.EINVALID, "PATCH body must be %s", OffsetContentType)
	}
	offset, err := ParseOffset(c.Get("Upload-Offset"))
	if err != nil {
		return errInvalid("Upload-Offset: %v", err)
	}
	u, release, err := s.load(c, interruptRead(c))
	if err != nil {
		return err
	}
	defer release()
	if u.Done {
		if offset != u.Length || hasBody(c) {
			return fail(fiber.StatusConflict, syncengine.ECONFLICT, "upload %s is complete (Upload-Offset %d)", u.ID, u.Length)
		}
	} else if _, err := s.appendChunk(c, u, offset); err != nil {
		return err
	}
	c.Set("Upload-Offset", strconv.FormatInt(u.Offset, 10))
	s.setExpires(c, u)
	return c.SendStatus(fiber.StatusNoContent)
}

// interruptGrace is how long an interrupted body read may still drain
// bytes that already reached the server before it fails.
const interruptGrace = 200 * time.Millisecond

// interruptRead returns how a later request on the same upload stops this
// request's body read: a read deadline shortly ahead, so bytes already in
// the socket are still kept and a dead connection is given up at once
// instead of after the read timeout.
func interruptRead(c *fiber.Ctx) func() {
	conn := c.Context().Conn()
	return func() { _ = conn.SetReadDeadline(time.Now().Add(interruptGrace)) }
}

// HandleDelete is tus termination: the staged bytes and the upload go. A
// completed upload's blob stays (other records may cite the same bytes).
func (s *Service) HandleDelete(c *fiber.Ctx) error {
	u, release, err := s.load(c, nil)
	if err != nil {
		return err
	}
	defer release()
	if err := s.expire(c.UserContext(), u); err != nil {
		if assets.IsTransient(err) {
			return errTransient("terminate upload")
		}
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
