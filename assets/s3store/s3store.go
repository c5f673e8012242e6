// Package s3store keeps evidence blobs in an S3 bucket (MinIO in practice),
// the backend for several stateless `ruhu serve` instances.
//
// Bucket layout mirrors assets/diskstore:
//
//	objects/<key>                      committed objects
//	staging/<upload id>/<offset:020d>  one object per appended chunk
//
// Staging lives in the bucket, not on a server's disk, because the next
// chunk of a resumable upload may reach another instance. Chunks are kept as
// separate objects and joined on commit by streaming them into one PutObject
// (or one server-side CopyObject when there is a single chunk). S3 multipart
// upload and ComposeObject were rejected: both require every part but the
// last to be at least 5 MiB, while tablets on 2G send chunks of a few hundred
// KiB. A photo is a few MiB, so the extra read on commit is cheap.
package s3store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ruhu-dev/ruhu/assets"
)

// Options configure Open.
type Options struct {
	// Endpoint is host:port of the S3 service, without scheme. Required.
	Endpoint string
	// AccessKey and SecretKey are the static credentials. Both required.
	AccessKey string
	SecretKey string
	// Bucket holds the objects; Open creates it when missing. Required.
	Bucket string
	// Secure selects HTTPS. The zero value speaks plain HTTP (a MinIO on
	// the same private network).
	Secure bool
	// Region of the bucket; empty means us-east-1, which MinIO accepts.
	Region string
	// MaxRetries bounds minio-go's own retries of one request (with
	// backoff). Zero means 3, so a stopped server is reported as
	// assets.ErrUnavailable within about two seconds and the caller's queue
	// decides when to try again.
	MaxRetries int
}

// ParseURL reads options from a URL of the form
//
//	s3://ACCESS:SECRET@host:port/bucket?secure=false&region=us-east-1
//
// The credentials may be left out of the URL and set on the result instead
// (keep secrets out of command lines). secure defaults to false.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Options{}, fmt.Errorf("parse s3 url: %w", err)
	}
	if u.Scheme != "s3" {
		return Options{}, fmt.Errorf("parse s3 url: scheme %q, want s3", u.Scheme)
	}
	if u.Host == "" {
		return Options{}, errors.New("parse s3 url: missing host:port")
	}
	bucket := strings.Trim(u.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return Options{}, fmt.Errorf("parse s3 url: path %q must be exactly one bucket name", u.Path)
	}
	opts := Options{Endpoint: u.Host, Bucket: bucket}
	if u.User != nil {
		opts.AccessKey = u.User.Username()
		opts.SecretKey, _ = u.User.Password()
	}
	q := u.Query()
	if v := q.Get("secure"); v != "" {
		if opts.Secure, err = strconv.ParseBool(v); err != nil {
			return Options{}, fmt.Errorf("parse s3 url: secure=%q: %w", v, err)
		}
	}
	opts.Region = q.Get("region")
	return opts, nil
}

// Store is a bucket of blobs. Safe for concurrent use, also across
// processes, except that one upload id must be appended to by one caller at
// a time (see assets.Store).
type Store struct {
	client *minio.Client
	bucket string
}

var _ assets.Store = (*Store)(nil)

// Open connects to the service described by opts and creates the bucket if
// it does not exist. Returns assets.ErrUnavailable when the service cannot
// be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Endpoint == "" || opts.Bucket == "" || opts.AccessKey == "" || opts.SecretKey == "" {
		return nil, errors.New("open s3 store: endpoint, bucket, access key and secret key are required")
	}
	retries := opts.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	client, err := minio.New(opts.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, ""),
		Secure:     opts.Secure,
		Region:     opts.Region,
		MaxRetries: retries,
	})
	if err != nil {
		return nil, fmt.Errorf("open s3 store %s: %w", opts.Endpoint, err)
	}
	s := &Store{client: client, bucket: opts.Bucket}
	if err := s.ensureBucket(ctx, opts.Region); err != nil {
		return nil, fmt.Errorf("open s3 store %s/%s: %w", opts.Endpoint, opts.Bucket, err)
	}
	return s, nil
}

// OpenURL is Open(ctx, ParseURL(raw)).
func OpenURL(ctx context.Context, raw string) (*Store, error) {
	opts, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, opts)
}

func (s *Store) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return classify(err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return nil // another instance won the race
	}
	return classify(err)
}

func objectName(key string) (string, error) {
	if !assets.ValidKey(key) {
		return "", fmt.Errorf("key %q: %w", key, assets.ErrInvalidKey)
	}
	return "objects/" + key, nil
}

func stagingPrefix(id string) (string, error) {
	if !assets.ValidUploadID(id) {
		return "", fmt.Errorf("upload id %q: %w", id, assets.ErrInvalidKey)
	}
	return "staging/" + id + "/", nil
}

// streamPartSize bounds the memory minio-go buffers per Put of unknown size.
const streamPartSize = 8 << 20

// smallChunk is the most of an upload chunk of unknown length that
// AppendUpload reads into memory to store it with one PUT of known size.
const smallChunk = 1 << 20

func putOptions(size int64) minio.PutObjectOptions {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		opts.PartSize = streamPartSize
	}
	return opts
}

// Put implements assets.Store. An object of known size up to 16 MiB goes up
// in one request, which S3 applies atomically; larger or unknown sizes use a
// multipart upload that becomes visible only when completed.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := objectName(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	src := &sourceReader{r: assets.ExactReader(r, size)}
	if _, err := s.client.PutObject(ctx, s.bucket, name, src, size, putOptions(size)); err != nil {
		return fmt.Errorf("put %s: %w", key, src.blame(err))
	}
	return nil
}

// Get implements assets.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	name, err := objectName(key)
	if err != nil {
		return nil, 0, fmt.Errorf("get: %w", err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, classify(err))
	}
	info, err := obj.Stat() // sends the request, so absence shows here
	if err != nil {
		obj.Close()
		return nil, 0, fmt.Errorf("get %s: %w", key, classify(err))
	}
	return transientReader{obj}, info.Size, nil
}

// Stat implements assets.Store.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	name, err := objectName(key)
	if err != nil {
		return 0, fmt.Errorf("stat: %w", err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", key, classify(err))
	}
	return info.Size, nil
}

// Delete implements assets.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := objectName(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(classify(err), assets.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, classify(err))
	}
	return nil
}

// chunk is one appended piece of a staged upload.
type chunk struct {
	name   string
	offset int64
	size   int64
}

// chunks lists the pieces of upload id in offset order and checks they
// join without gaps or overlaps.
func (s *Store) chunks(ctx context.Context, id string) ([]chunk, int64, error) {
	prefix, err := stagingPrefix(id)
	if err != nil {
		return nil, 0, err
	}
	var list []chunk
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, 0, classify(info.Err)
		}
		off, err := strconv.ParseInt(strings.TrimPrefix(info.Key, prefix), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("staged chunk %s: bad offset in name: %w", info.Key, err)
		}
		list = append(list, chunk{name: info.Key, offset: off, size: info.Size})
	}
	slices.SortFunc(list, func(a, b chunk) int { return cmp.Compare(a.offset, b.offset) })
	var total int64
	for _, c := range list {
		if c.offset != total {
			return nil, 0, fmt.Errorf("staged upload %s: chunk at %d after %d bytes (concurrent appends?)", id, c.offset, total)
		}
		total += c.size
	}
	return list, total, nil
}

// AppendUpload implements assets.Store. Each chunk is one object, written
// whole or not at all: a chunk cut midway is discarded and the returned size
// stays at offset, so the client resends that one chunk.
func (s *Store) AppendUpload(ctx context.Context, id string, offset int64, r io.Reader, size int64) (int64, error) {
	_, total, err := s.chunks(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("append upload: %w", err)
	}
	if total != offset {
		return total, fmt.Errorf("append upload %s at %d: upload holds %d bytes: %w", id, offset, total, assets.ErrOffsetMismatch)
	}
	prefix, _ := stagingPrefix(id)
	src := &sourceReader{r: r}
	if size >= 0 {
		src.r = io.LimitReader(r, size)
	} else {
		// A body of unknown length (the tablet sends chunked PATCHes) is
		// usually a small chunk: read up to smallChunk of it first, so that
		// one ends as a single PUT of known size instead of a multipart
		// upload that buffers streamPartSize.
		head, err := io.ReadAll(io.LimitReader(src, smallChunk+1))
		if err != nil {
			return offset, fmt.Errorf("append upload %s: chunk at %d: %w", id, offset, src.blame(err))
		}
		if len(head) <= smallChunk {
			src.r, size = bytes.NewReader(head), int64(len(head))
		} else {
			src.r = io.MultiReader(bytes.NewReader(head), r)
		}
	}
	// If-None-Match: a chunk object, once written, is never replaced. Two
	// servers appending at one offset at once (a tablet's retry reaching
	// another instance while the first still reads the old request) both
	// pass the offset check above; only one PUT lands, the other answers an
	// offset mismatch and the tablet resumes from HEAD, instead of a later
	// shorter write leaving a gap behind chunks already appended after it.
	opts := putOptions(size)
	opts.SetMatchETagExcept("*")
	info, err := s.client.PutObject(ctx, s.bucket, fmt.Sprintf("%s%020d", prefix, offset), src, size, opts)
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.PreconditionFailed {
			_, total, lerr := s.chunks(ctx, id)
			if lerr != nil {
				total = offset
			}
			return total, fmt.Errorf("append upload %s at %d: another append stored this chunk first: %w", id, offset, assets.ErrOffsetMismatch)
		}
		return offset, fmt.Errorf("append upload %s: chunk at %d: %w", id, offset, src.blame(err))
	}
	if size >= 0 && info.Size < size {
		// The chunk ended early but was stored whole as far as it went.
		return offset + info.Size, fmt.Errorf("append upload %s: chunk ended after %d of %d bytes: %w", id, info.Size, size, assets.ErrSizeMismatch)
	}
	return offset + info.Size, nil
}

// UploadSize implements assets.Store.
func (s *Store) UploadSize(ctx context.Context, id string) (int64, error) {
	_, total, err := s.chunks(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("upload size: %w", err)
	}
	return total, nil
}

// CommitUpload implements assets.Store: one pass to hash the chunks, then
// one copy into place, then the staging is removed.
func (s *Store) CommitUpload(ctx context.Context, id, key, wantSHA256 string) (int64, error) {
	dest, err := objectName(key)
	if err != nil {
		return 0, fmt.Errorf("commit upload %s: %w", id, err)
	}
	list, total, err := s.chunks(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("commit upload: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, s.joined(ctx, list)); err != nil {
		return 0, fmt.Errorf("commit upload %s: hash: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(wantSHA256) {
		return 0, fmt.Errorf("commit upload %s: staged bytes hash to %s, want %s: %w", id, got, wantSHA256, assets.ErrHashMismatch)
	}
	if len(list) == 1 {
		_, err = s.client.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: s.bucket, Object: dest},
			minio.CopySrcOptions{Bucket: s.bucket, Object: list[0].name})
	} else {
		_, err = s.client.PutObject(ctx, s.bucket, dest, assets.ExactReader(s.joined(ctx, list), total), total, putOptions(total))
	}
	if err != nil {
		return 0, fmt.Errorf("commit upload %s to %s: %w", id, key, classify(err))
	}
	if err := s.removeChunks(ctx, list); err != nil {
		// The object is in place; leftover staging only costs space.
		return total, fmt.Errorf("commit upload %s: committed, but staging not removed: %w", id, err)
	}
	return total, nil
}

// AbortUpload implements assets.Store.
func (s *Store) AbortUpload(ctx context.Context, id string) error {
	prefix, err := stagingPrefix(id)
	if err != nil {
		return fmt.Errorf("abort upload: %w", err)
	}
	var list []chunk
	for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return fmt.Errorf("abort upload %s: %w", id, classify(info.Err))
		}
		list = append(list, chunk{name: info.Key})
	}
	if err := s.removeChunks(ctx, list); err != nil {
		return fmt.Errorf("abort upload %s: %w", id, err)
	}
	return nil
}

func (s *Store) removeChunks(ctx context.Context, list []chunk) error {
	for _, c := range list {
		if err := s.client.RemoveObject(ctx, s.bucket, c.name, minio.RemoveObjectOptions{}); err != nil {
			return classify(err)
		}
	}
	return nil
}

// joined reads the chunks one after another, opening each only when reached.
func (s *Store) joined(ctx context.Context, list []chunk) io.Reader {
	return &chunkReader{ctx: ctx, s: s, list: list}
}

type chunkReader struct {
	ctx  context.Context
	s    *Store
	list []chunk
	cur  io.ReadCloser
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.list) == 0 {
				return 0, io.EOF
			}
			obj, err := c.s.client.GetObject(c.ctx, c.s.bucket, c.list[0].name, minio.GetObjectOptions{})
			if err != nil {
				return 0, classify(err)
			}
			c.cur = transientReader{obj}
			c.list = c.list[1:]
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// transientReader classifies errors that surface while streaming a body.
type transientReader struct{ *minio.Object }

func (t transientReader) Read(p []byte) (int, error) {
	n, err := t.Object.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

// sourceReader remembers whether the caller's reader failed, so that a
// failure of the bytes we were given is never mistaken for the service
// being down, however the HTTP client wraps it.
type sourceReader struct {
	r      io.Reader
	failed error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.failed = err
	}
	return n, err
}

// blame returns the source's own error if it failed, else classify(err).
func (s *sourceReader) blame(err error) error {
	if s.failed != nil {
		return fmt.Errorf("read source: %w", s.failed)
	}
	return classify(err)
}

// classify maps minio-go errors onto the assets vocabulary: absence is
// assets.ErrNotFound; anything that says the service is down, overloaded or
// unreachable is assets.ErrUnavailable; the original error stays wrapped.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchUpload":
		return fmt.Errorf("%w: %w", assets.ErrNotFound, err)
	case "SlowDown", "SlowDownRead", "SlowDownWrite", "ServiceUnavailable", "InternalError",
		"RequestTimeout", "XMinioServerNotInitialized", "XMinioStorageFull":
		return fmt.Errorf("%w: %w", assets.ErrUnavailable, err)
	case "":
		if resp.StatusCode == 0 {
			// No S3 answer at all: connection refused, reset, DNS, timeout.
			return fmt.Errorf("%w: %w", assets.ErrUnavailable, err)
		}
	}
	if resp.StatusCode >= 500 || resp.StatusCode == 429 {
		return fmt.Errorf("%w: %w", assets.ErrUnavailable, err)
	}
	return err
}
