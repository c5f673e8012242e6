package client_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tusServer is a small but faithful tus 1.0 server (core, creation,
// creation-with-upload, checksum) for the upload client's tests: it tracks
// each upload's offset, refuses a PATCH at the wrong offset (409), checks
// Upload-Checksum (460) and keeps nothing of a checksummed chunk that did
// not arrive whole — but keeps what arrived of a chunk without a checksum,
// as the real server does —, verifies the sha256 metadata once the last
// byte is in (460 and the bytes dropped when it differs),
// and answers a creation for bytes it already holds as complete (dedup).
// Faults are injected per test; the real server's tus is tested end to end
// in cmd/ruhu.
type tusServer struct {
	t    testing.TB
	auth func(r *http.Request) (int, string)

	mu      sync.Mutex
	uploads map[string]*tusUpload
	blobs   map[string][]byte // verified, by sha256
	nextID  int

	// What the server saw.
	creates  []string       // sha256 of each POST, in order
	heads    int            // HEAD requests
	patches  []int          // body length of each PATCH, in order
	summed   int            // PATCHes that carried an Upload-Checksum
	chunked  int            // PATCHes sent without a Content-Length
	received map[string]int // body bytes read per sha (kept or not)

	// Faults.
	cutAt    map[string]int64 // sha → cut the connection once, mid-chunk, when a PATCH crosses this offset
	failSHA  map[string]bool  // sha → answer every request about it 500
	fail503  int              // answer the next n PATCHes 503
	corrupt  int              // flip a bit in the next n PATCH bodies as they arrive (→ 460)
	onPatch  func()           // called before each PATCH is handled (without mu)
	length   bool             // answer 411 to a PATCH without a Content-Length, as some proxies do
	complete func(sha string) // called when a blob is verified
}

type tusUpload struct {
	length int64
	meta   map[string]string
	data   []byte
}

func newTusServer(t testing.TB, f *fakeServer) *tusServer {
	s := &tusServer{
		t: t, uploads: map[string]*tusUpload{}, blobs: map[string][]byte{}, received: map[string]int{},
		cutAt: map[string]int64{}, failSHA: map[string]bool{},
	}
	s.auth = func(r *http.Request) (int, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, e := f.authDevice(r); e != nil {
			return e.status, e.code
		}
		return 0, ""
	}
	f.set(func(f *fakeServer) { f.tus = s })
	return s
}

func (s *tusServer) with(fn func(s *tusServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *tusServer) blob(sha string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs[sha]
}

func tusFail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"code": code, "message": msg})
	w.Write(b)
}

func (s *tusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Tus-Resumable", "1.0.0")
	if r.Header.Get("Tus-Resumable") != "1.0.0" {
		tusFail(w, http.StatusPreconditionFailed, "EINVALID", "Tus-Resumable 1.0.0 required")
		return
	}
	if status, code := s.auth(r); status != 0 {
		tusFail(w, status, code, "not allowed")
		return
	}
	s.mu.Lock()
	hook := s.onPatch
	s.mu.Unlock()
	if r.Method == http.MethodPatch && hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/uploads"), "/")
	switch {
	case r.Method == http.MethodPost && id == "":
		s.create(w, r)
	case r.Method == http.MethodHead && id != "":
		s.heads++
		u := s.uploads[id]
		if u == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if s.failSHA[u.meta["sha256"]] {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Upload-Offset", strconv.Itoa(len(u.data)))
		w.Header().Set("Upload-Length", strconv.FormatInt(u.length, 10))
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPatch && id != "":
		u := s.uploads[id]
		if u == nil {
			tusFail(w, http.StatusNotFound, "ENOTFOUND", "no such upload")
			return
		}
		s.patch(w, r, u)
	default:
		tusFail(w, http.StatusMethodNotAllowed, "EINVALID", "method not allowed")
	}
}

func (s *tusServer) create(w http.ResponseWriter, r *http.Request) {
	length, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || length <= 0 {
		tusFail(w, http.StatusBadRequest, "EINVALID", "Upload-Length")
		return
	}
	meta := map[string]string{}
	for _, pair := range strings.Split(r.Header.Get("Upload-Metadata"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(pair), " ")
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			tusFail(w, http.StatusBadRequest, "EINVALID", "Upload-Metadata")
			return
		}
		meta[k] = string(dec)
	}
	for _, k := range []string{"sha256", "kind", "collection", "record_id", "area"} {
		if meta[k] == "" {
			tusFail(w, http.StatusBadRequest, "EINVALID", "metadata "+k+" missing")
			return
		}
	}
	sha := meta["sha256"]
	s.creates = append(s.creates, sha)
	if s.failSHA[sha] {
		tusFail(w, http.StatusInternalServerError, "EINTERNAL", "disk on fire")
		return
	}
	s.nextID++
	id := fmt.Sprintf("u%d", s.nextID)
	u := &tusUpload{length: length, meta: meta}
	s.uploads[id] = u
	w.Header().Set("Location", "/v1/uploads/"+id)
	if b, ok := s.blobs[sha]; ok && int64(len(b)) == length {
		io.Copy(io.Discard, r.Body)
		u.data = b
		w.Header().Set("Upload-Offset", strconv.FormatInt(length, 10))
		w.WriteHeader(http.StatusCreated)
		return
	}
	if r.ContentLength > 0 {
		if !s.appendBody(w, r, u, false) {
			return
		}
	}
	w.Header().Set("Upload-Offset", strconv.Itoa(len(u.data)))
	w.WriteHeader(http.StatusCreated)
}

func (s *tusServer) patch(w http.ResponseWriter, r *http.Request, u *tusUpload) {
	sha := u.meta["sha256"]
	if r.ContentLength < 0 {
		s.chunked++
		if s.length {
			tusFail(w, http.StatusLengthRequired, "EINVALID", "Content-Length required")
			return
		}
	}
	// The body is read first (a chunked one has no length to go by); a
	// cut is then played by closing the connection without an answer.
	body, err := io.ReadAll(io.LimitReader(r.Body, u.length+1))
	if err != nil {
		tusFail(w, http.StatusBadRequest, "EINVALID", "body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.patches = append(s.patches, len(body))
	if r.Header.Get("Upload-Checksum") != "" {
		s.summed++
	}
	if s.failSHA[sha] {
		tusFail(w, http.StatusInternalServerError, "EINTERNAL", "disk on fire")
		return
	}
	if r.Header.Get("Content-Type") != "application/offset+octet-stream" {
		tusFail(w, http.StatusUnsupportedMediaType, "EINVALID", "content type")
		return
	}
	off, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		tusFail(w, http.StatusBadRequest, "EINVALID", "Upload-Offset")
		return
	}
	if off != int64(len(u.data)) {
		w.Header().Set("Upload-Offset", strconv.Itoa(len(u.data)))
		tusFail(w, http.StatusConflict, "ECONFLICT", "offset mismatch")
		return
	}
	if s.fail503 > 0 {
		s.fail503--
		io.Copy(io.Discard, r.Body)
		tusFail(w, http.StatusServiceUnavailable, "ETRANSIENT", "busy")
		return
	}
	if !s.appendBody(w, r, u, s.corrupt > 0) {
		return
	}
	w.Header().Set("Upload-Offset", strconv.Itoa(len(u.data)))
	w.WriteHeader(http.StatusNoContent)
}

// appendBody reads a chunk and appends it when whole and checksummed
// right; once the upload is complete it verifies the sha256. It writes the
// error answer itself and returns false on failure.
func (s *tusServer) appendBody(w http.ResponseWriter, r *http.Request, u *tusUpload, corrupt bool) bool {
	sha := u.meta["sha256"]
	start := int64(len(u.data))
	if cut, ok := s.cutAt[sha]; ok && start <= cut && cut < start+r.ContentLength {
		delete(s.cutAt, sha)
		part := make([]byte, cut-start)
		n, _ := io.ReadFull(r.Body, part)
		s.received[sha] += n
		hj, ok := w.(http.Hijacker)
		if !ok {
			s.t.Error("tus server: cannot hijack")
			return false
		}
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
		if r.Header.Get("Upload-Checksum") == "" {
			// A checksummed chunk that did not arrive whole is dropped;
			// of one without, what arrived is kept.
			u.data = append(u.data, part[:n]...)
		}
		return false
	}
	chunk, err := io.ReadAll(io.LimitReader(r.Body, u.length-start+1))
	s.received[sha] += len(chunk)
	if err != nil {
		tusFail(w, http.StatusServiceUnavailable, "ETRANSIENT", "chunk ended early")
		return false
	}
	if start+int64(len(chunk)) > u.length {
		tusFail(w, http.StatusRequestEntityTooLarge, "ETOOLARGE", "past Upload-Length")
		return false
	}
	if corrupt && len(chunk) > 0 {
		s.corrupt--
		chunk[len(chunk)/2] ^= 1
	}
	if h := r.Header.Get("Upload-Checksum"); h != "" {
		algo, b64, _ := strings.Cut(h, " ")
		want, err := base64.StdEncoding.DecodeString(b64)
		if algo != "sha256" || err != nil {
			tusFail(w, http.StatusBadRequest, "EINVALID", "Upload-Checksum")
			return false
		}
		if sum := sha256.Sum256(chunk); !bytes.Equal(sum[:], want) {
			tusFail(w, 460, "EINVALID", "checksum mismatch")
			return false
		}
	}
	u.data = append(u.data, chunk...)
	if int64(len(u.data)) == u.length {
		sum := sha256.Sum256(u.data)
		if hex.EncodeToString(sum[:]) != sha {
			for id, o := range s.uploads {
				if o == u {
					delete(s.uploads, id) // as the real server: nothing kept
				}
			}
			tusFail(w, 460, "EINVALID", "file does not hash to its sha256")
			return false
		}
		s.blobs[sha] = bytes.Clone(u.data)
		if s.complete != nil {
			s.complete(sha)
		}
	}
	return true
}
