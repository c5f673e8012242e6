package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// tus 1.0 client: creation (with upload) and core (HEAD, PATCH). The
// PATCHes carry no Upload-Checksum: a checksum makes a chunk all or
// nothing, so a connection cut mid-chunk threw the whole chunk away — on
// a 2G link that cuts every 16–64 KiB, about one chunk per cut. Without
// it the server keeps every byte that arrived and the client resumes
// from the offset HEAD reports. Integrity stays end to end: the server
// hashes the complete file against the sha256 in Upload-Metadata before
// anything becomes visible, and answers 460 (and drops the upload) when
// it differs. The server's endpoint is UploadsPath.

// UploadsPath is where the server serves tus uploads.
const UploadsPath = "/v1/uploads"

const (
	tusVersion        = "1.0.0"
	offsetContentType = "application/offset+octet-stream"
	// statusChecksumMismatch is tus's answer to a chunk whose
	// Upload-Checksum does not match (or a file that does not hash to its
	// sha256 once complete).
	statusChecksumMismatch = 460
	maxTusErrorBody        = 64 << 10
)

// tusError is a refused tus request: the HTTP status (tus gives 409, 410,
// 460 meanings of their own) and the coded error from the body.
type tusError struct {
	Status int
	Err    error
}

func (e *tusError) Error() string { return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err) }
func (e *tusError) Unwrap() error { return e.Err }

// tusStatus returns the HTTP status of a refused tus request, 0 for other
// errors (network).
func tusStatus(err error) int {
	var te *tusError
	if errors.As(err, &te) {
		return te.Status
	}
	return 0
}

// tusClient speaks tus to one server with the device's bearer token.
type tusClient struct {
	base  string
	hc    *http.Client
	token func() string
	// fixedLength sends PATCH bodies with a Content-Length instead of
	// chunked: set once something on the way answered 411 Length
	// Required.
	fixedLength bool
}

// tusMeta is what the server files an upload under.
type tusMeta struct {
	sha, kind, collection, recordID, area string
}

func (m tusMeta) header() string {
	pairs := []struct{ k, v string }{
		{"sha256", m.sha}, {"kind", m.kind}, {"collection", m.collection}, {"record_id", m.recordID}, {"area", m.area},
	}
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + " " + base64.StdEncoding.EncodeToString([]byte(p.v))
	}
	return strings.Join(parts, ",")
}

// create starts an upload of length bytes (tus creation). When first is
// not nil it is sent in the same request (creation-with-upload). It
// returns the absolute upload URL and the server's offset: equal to
// length when the server already holds a verified blob with that sha256
// (dedup) or the whole file fit in first.
func (t *tusClient) create(ctx context.Context, m tusMeta, length int64, first []byte) (string, int64, error) {
	var body io.Reader
	if first != nil {
		body = bytes.NewReader(first)
	}
	req, err := t.request(ctx, http.MethodPost, t.base+UploadsPath, body)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	req.Header.Set("Upload-Metadata", m.header())
	if first != nil {
		req.Header.Set("Content-Type", offsetContentType)
		req.ContentLength = int64(len(first))
	}
	resp, err := t.do(ctx, req, http.StatusCreated)
	if err != nil {
		return "", 0, fmt.Errorf("create upload of %s: %w", m.sha, err)
	}
	loc, err := t.resolve(resp.Header.Get("Location"))
	if err != nil {
		return "", 0, fmt.Errorf("create upload of %s: %w", m.sha, err)
	}
	off := int64(0)
	if h := resp.Header.Get("Upload-Offset"); h != "" {
		if off, err = parseOffset(h, length); err != nil {
			return "", 0, fmt.Errorf("create upload of %s: %w", m.sha, err)
		}
	}
	return loc, off, nil
}

// head asks how many bytes of the upload the server holds.
func (t *tusClient) head(ctx context.Context, uploadURL string, length int64) (int64, error) {
	req, err := t.request(ctx, http.MethodHead, uploadURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := t.do(ctx, req, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return 0, fmt.Errorf("resume upload: %w", err)
	}
	if l := resp.Header.Get("Upload-Length"); l != "" && l != strconv.FormatInt(length, 10) {
		return 0, &tusError{Status: http.StatusGone, Err: syncengine.Errorf(syncengine.ENOTFOUND, "upload length %s on the server, %d here", l, length)}
	}
	off, err := parseOffset(resp.Header.Get("Upload-Offset"), length)
	if err != nil {
		return 0, fmt.Errorf("resume upload: %w", err)
	}
	return off, nil
}

// patch sends chunk at offset and returns the server's new offset. sent
// counts the chunk's bytes the HTTP client took for the wire, all of
// them or those before the connection failed.
//
// The body goes chunked (Transfer-Encoding), not with a Content-Length:
// ruhu's server (fasthttp) reads the first 8 KiB of a body of known
// length before its handler runs and drops a request cut inside those
// whole, while a chunked body reaches the handler from its first byte,
// so the server keeps what arrived of it wherever the cut falls. The
// framing costs about 20 bytes a chunk. A 411 answer turns it off
// (fixedLength).
func (t *tusClient) patch(ctx context.Context, uploadURL string, offset, length int64, chunk []byte, sent *int64) (int64, error) {
	body := &wireCounter{r: bytes.NewReader(chunk)}
	defer func() { *sent += body.n.Load() }()
	req, err := t.request(ctx, http.MethodPatch, uploadURL, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = -1 // chunked
	if t.fixedLength {
		req.ContentLength = int64(len(chunk))
	}
	req.Header.Set("Content-Type", offsetContentType)
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	resp, err := t.do(ctx, req, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return 0, fmt.Errorf("send %d bytes at %d: %w", len(chunk), offset, err)
	}
	off, err := parseOffset(resp.Header.Get("Upload-Offset"), length)
	if err != nil {
		return 0, fmt.Errorf("send %d bytes at %d: %w", len(chunk), offset, err)
	}
	return off, nil
}

func (t *tusClient) request(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, syncengine.Errorf(syncengine.EINVALID, "upload address %q: %v", u, err)
	}
	req.Header.Set("Tus-Resumable", tusVersion)
	// No User-Agent: over 2G every request's headers are paid for, and a
	// cut link costs a HEAD and a PATCH each time.
	req.Header.Set("User-Agent", "")
	if tok := t.token(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// do sends req and returns the response (body drained and closed) when its
// status is one of ok; otherwise a *tusError, or ETRANSIENT for a network
// failure.
func (t *tusClient) do(ctx context.Context, req *http.Request, ok ...int) (*http.Response, error) {
	hc := t.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, networkError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTusErrorBody))
	if err != nil {
		return nil, networkError(ctx, fmt.Errorf("read response: %w", err))
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	return nil, &tusError{Status: resp.StatusCode, Err: tusResponseError(resp.StatusCode, body)}
}

// tusResponseError maps tus's own statuses to codes; the rest as the API.
func tusResponseError(status int, body []byte) error {
	switch status {
	case statusChecksumMismatch:
		return syncengine.Errorf(syncengine.EINVALID, "checksum mismatch: %s", bodyMessage(body))
	case http.StatusLocked, http.StatusRequestTimeout:
		return syncengine.Errorf(syncengine.ETRANSIENT, "upload busy: %s", bodyMessage(body))
	case http.StatusGone:
		return syncengine.Errorf(syncengine.ENOTFOUND, "upload expired: %s", bodyMessage(body))
	}
	return responseError(status, body)
}

func bodyMessage(body []byte) string {
	if err := responseError(http.StatusBadRequest, body); err != nil {
		var se *syncengine.Error
		if errors.As(err, &se) && se.Message != http.StatusText(http.StatusBadRequest) {
			return se.Message
		}
	}
	return "(no message)"
}

// resolve turns a Location header into an absolute URL on the server.
func (t *tusClient) resolve(loc string) (string, error) {
	if loc == "" {
		return "", syncengine.Errorf(syncengine.EINTERNAL, "server created an upload without a Location")
	}
	base, err := url.Parse(t.base + "/")
	if err != nil {
		return "", syncengine.Errorf(syncengine.EINVALID, "server address %q: %v", t.base, err)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return "", syncengine.Errorf(syncengine.EINTERNAL, "bad upload Location %q", loc)
	}
	return base.ResolveReference(ref).String(), nil
}

func parseOffset(h string, length int64) (int64, error) {
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n < 0 || n > length {
		return 0, syncengine.Errorf(syncengine.EINTERNAL, "bad Upload-Offset %q for %d bytes", h, length)
	}
	return n, nil
}

// wireCounter counts the bytes of a request body the HTTP client read. It
// is atomic because the transport may still be reading the body in its
// own goroutine when Do returns with an error.
type wireCounter struct {
	r io.Reader
	n atomic.Int64
}

func (w *wireCounter) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n.Add(int64(n))
	return n, err
}
