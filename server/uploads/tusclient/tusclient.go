// Package tusclient is a small resuming tus 1.0 client for ruhu's upload
// endpoint: it creates an upload, then sends chunks from the offset the
// server reports, resuming after dropped connections, server restarts and
// (with StateDir) its own restarts. Tests and the upload benchmark drive the
// server with it; it counts the bytes it puts on the wire.
package tusclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client uploads files. The zero value is not usable: set Endpoint and
// Token.
type Client struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// Token is the bearer access token.
	Token string
	// HTTP is the client used; nil means a new http.Client.
	HTTP *http.Client
	// ChunkSize is the PATCH body size. Zero means 256 KiB.
	ChunkSize int
	// Checksum sends Upload-Checksum (sha256) with every chunk. A cut
	// checksummed chunk is then resent whole (the server cannot verify a
	// part); without it the server keeps what arrived.
	Checksum bool
	// StateDir remembers upload URLs across client restarts; "" keeps
	// them in memory only.
	StateDir string
	// MaxFailures is how many failed requests in a row end the upload.
	// Zero means 30.
	MaxFailures int
	// Backoff is the pause after the n-th failure in a row (n from 1).
	// Nil means 20 ms × n, at most 1 s.
	Backoff func(n int) time.Duration
}

// File is one upload.
type File struct {
	Data []byte
	// SHA256 is the hex digest of Data; computed when empty.
	SHA256                     string
	Kind                       string
	Collection, RecordID, Area string
}

// Stats tell what an upload cost.
type Stats struct {
	// BytesSent counts PATCH (and creation) body bytes handed to the
	// network, resent bytes included.
	BytesSent int64
	// Requests counts HTTP requests; Failures those that failed (network
	// errors and 5xx, 409, 423, 460 answers).
	Requests, Failures int
	// Resumed is true when the upload went on from a remembered URL.
	Resumed bool
	// Deduped is true when the server already had the blob.
	Deduped bool
}

// Error is a refusal by the server that retrying will not change.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("tus: %d %s: %s", e.Status, e.Code, e.Message) }

// ErrGaveUp wraps the last failure after MaxFailures failures in a row.
var ErrGaveUp = errors.New("tus: too many failures in a row")

type state struct {
	Path string `json:"path"`
}

func (c *Client) stateFile(f *File) string {
	h := sha256.Sum256([]byte(f.SHA256 + "\x00" + f.Collection + "\x00" + f.RecordID))
	return filepath.Join(c.StateDir, hex.EncodeToString(h[:16])+".json")
}

func (c *Client) loadState(f *File) string {
	if c.StateDir == "" {
		return ""
	}
	b, err := os.ReadFile(c.stateFile(f))
	if err != nil {
		return ""
	}
	var st state
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	return st.Path
}

func (c *Client) saveState(f *File, path string) error {
	if c.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return fmt.Errorf("save upload state: %w", err)
	}
	b, _ := json.Marshal(state{Path: path})
	tmp := c.stateFile(f) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save upload state: %w", err)
	}
	return os.Rename(tmp, c.stateFile(f))
}

func (c *Client) clearState(f *File) {
	if c.StateDir != "" {
		_ = os.Remove(c.stateFile(f))
	}
}

// Upload sends f and returns once the server holds all of it. It resumes
// an upload remembered in StateDir.
func (c *Client) Upload(ctx context.Context, f File) (Stats, error) {
	var st Stats
	if f.SHA256 == "" {
		sum := sha256.Sum256(f.Data)
		f.SHA256 = hex.EncodeToString(sum[:])
	}
	chunk := c.ChunkSize
	if chunk <= 0 {
		chunk = 256 << 10
	}
	maxFail := c.MaxFailures
	if maxFail <= 0 {
		maxFail = 30
	}
	path := c.loadState(&f)
	st.Resumed = path != ""
	length := int64(len(f.Data))
	failures := 0
	var lastErr error
	offset := int64(-1) // unknown: HEAD first
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if failures > 0 {
			if failures >= maxFail {
				return st, fmt.Errorf("%w: %w", ErrGaveUp, lastErr)
			}
			if err := sleep(ctx, c.backoff(failures)); err != nil {
				return st, err
			}
		}
		var (
			resp *response
			err  error
		)
		switch {
		case path == "":
			resp, err = c.create(ctx, &f, &st)
			if err == nil && resp.status == http.StatusCreated {
				loc := resp.header.Get("Location")
				if loc == "" {
					return st, errors.New("tus: creation answered without Location")
				}
				path = loc
				if err := c.saveState(&f, path); err != nil {
					return st, err
				}
				offset = parseOffset(resp.header.Get("Upload-Offset"), 0)
				st.Deduped = offset == length
			}
		case offset < 0:
			resp, err = c.do(ctx, http.MethodHead, path, nil, nil, &st)
			if err == nil && resp.status == http.StatusOK {
				offset = parseOffset(resp.header.Get("Upload-Offset"), -1)
			}
		default:
			end := min(offset+int64(chunk), length)
			body := f.Data[offset:end]
			h := http.Header{"Content-Type": {"application/offset+octet-stream"}, "Upload-Offset": {strconv.FormatInt(offset, 10)}}
			if c.Checksum {
				sum := sha256.Sum256(body)
				h.Set("Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(sum[:]))
			}
			resp, err = c.do(ctx, http.MethodPatch, path, h, body, &st)
			if err == nil && resp.status == http.StatusNoContent {
				offset = parseOffset(resp.header.Get("Upload-Offset"), -1)
			}
		}
		if err != nil {
			// The connection dropped: ask the server where we are.
			st.Failures++
			failures++
			lastErr = err
			offset = -1
			continue
		}
		switch {
		case resp.status < 300:
			failures = 0
			if offset == length {
				c.clearState(&f)
				return st, nil
			}
			continue
		case resp.status == http.StatusNotFound || resp.status == http.StatusGone:
			// Expired or removed: start again.
			c.clearState(&f)
			path, offset = "", -1
		case resp.status == 460 && offset >= 0 && offset+int64(chunk) >= length:
			// The whole file did not hash to its sha256: resending cannot help.
			c.clearState(&f)
			return st, resp.err()
		case resp.status == 409 || resp.status == 423 || resp.status == 460 || resp.status >= 500:
			offset = -1
		default:
			c.clearState(&f)
			return st, resp.err()
		}
		st.Failures++
		failures++
		lastErr = resp.err()
	}
}

func (c *Client) backoff(n int) time.Duration {
	if c.Backoff != nil {
		return c.Backoff(n)
	}
	return min(time.Duration(n)*20*time.Millisecond, time.Second)
}

func (c *Client) create(ctx context.Context, f *File, st *Stats) (*response, error) {
	meta := []string{}
	for _, kv := range [][2]string{{"sha256", f.SHA256}, {"kind", f.Kind}, {"collection", f.Collection}, {"record_id", f.RecordID}, {"area", f.Area}} {
		meta = append(meta, kv[0]+" "+base64.StdEncoding.EncodeToString([]byte(kv[1])))
	}
	h := http.Header{"Upload-Length": {strconv.Itoa(len(f.Data))}, "Upload-Metadata": {strings.Join(meta, ",")}}
	return c.do(ctx, http.MethodPost, "/v1/uploads", h, nil, st)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) err() error {
	var e struct{ Code, Message string }
	_ = json.Unmarshal(r.body, &e)
	return &Error{Status: r.status, Code: e.Code, Message: e.Message}
}

// countingReader counts the bytes the transport takes from a body.
type countingReader struct {
	r *bytes.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *Client) do(ctx context.Context, method, path string, h http.Header, body []byte, st *Stats) (*response, error) {
	url := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		url = strings.TrimSuffix(c.Endpoint, "/") + path
	}
	var sent atomic.Int64
	var rd io.Reader
	if body != nil {
		rd = countingReader{bytes.NewReader(body), &sent}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(countingReader{bytes.NewReader(body), &sent}), nil
		}
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	st.Requests++
	resp, err := hc.Do(req)
	st.BytesSent += sent.Load()
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func parseOffset(s string, def int64) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return def
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
