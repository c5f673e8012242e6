// Package uploadbench measures resumable photo uploads over a simulated
// village link: a 50 kbit/s line that drops connections at random byte
// offsets, between the tus client and a real server on loopback (bbolt
// file, blob folder). It reports how many bytes had to be sent again and
// the useful throughput. `ruhu bench photos` runs it.
package uploadbench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/uploads/faultproxy"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
)

// Options shape the run. Every zero value means the default named.
type Options struct {
	// Dir holds the server's files; "" means a temporary folder, removed
	// afterwards.
	Dir string
	// BitsPerSecond is the link speed each way. Zero means 50,000 (2G).
	BitsPerSecond int
	// Photos is how many evidence photos are uploaded. Zero means 3.
	Photos int
	// CutMin and CutMax bound the client-to-server bytes a connection
	// carries before it is cut. Zero means 16 KiB and 64 KiB: a drop
	// every few seconds at 2G speed.
	CutMin, CutMax int64
	// ChunkSize is the client's PATCH size. Zero means 32 KiB.
	ChunkSize int
	// Checksum makes the client checksum every chunk (a cut chunk is then
	// resent whole).
	Checksum bool
	// Seed picks the cut points.
	Seed uint64
}

// Result is what a run measured.
type Result struct {
	Photos int `json:"photos"`
	// Bytes is the size of the photos; Sent the body bytes the client sent
	// (resends included); Link the client-to-server bytes that crossed the
	// link (headers included).
	Bytes int64 `json:"bytes"`
	Sent  int64 `json:"sent"`
	Link  int64 `json:"link_bytes"`
	Cuts  int   `json:"cuts"`
	// Seconds is the wall time of the uploads.
	Seconds float64 `json:"seconds"`
	// ResentRatio is (Link − Bytes) / Bytes: what the link carried beyond
	// the photos themselves (resent bytes and HTTP headers), per photo
	// byte. Sent overstates the cost: bytes still in the client's socket
	// buffer when a connection drops never used the link. A cut costs the
	// bytes in flight, and at most the first 8 KiB of a PATCH body (the
	// HTTP layer reads that much before the handler runs).
	ResentRatio float64 `json:"resent_ratio"`
	// ThroughputKBps is Bytes / Seconds in kilobytes (1000 bytes) per second.
	ThroughputKBps float64 `json:"throughput_kBps"`
}

// Run uploads o.Photos evidence photos through the simulated link and
// checks that the server holds every one byte for byte.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.BitsPerSecond <= 0 {
		o.BitsPerSecond = 50_000
	}
	if o.Photos <= 0 {
		o.Photos = 3
	}
	if o.CutMax <= 0 {
		o.CutMin, o.CutMax = 16<<10, 64<<10
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 32 << 10
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "ruhu-uploadbench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	photos, err := evidencePhotos(o.Photos)
	if err != nil {
		return Result{}, err
	}
	base, stop, err := startServer(o.Dir)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	token, err := login(ctx, base)
	if err != nil {
		return Result{}, err
	}
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(base, "http://"),
		BytesPerSecond: o.BitsPerSecond / 8, CutMin: o.CutMin, CutMax: o.CutMax, Seed: o.Seed})
	if err != nil {
		return Result{}, err
	}
	defer px.Close()

	res := Result{Photos: len(photos)}
	start := time.Now()
	for i, data := range photos {
		c := &tusclient.Client{Endpoint: px.URL(), Token: token, ChunkSize: o.ChunkSize, Checksum: o.Checksum, MaxFailures: 100}
		st, err := c.Upload(ctx, tusclient.File{Data: data, Kind: "photo", Collection: collection.Visits,
			RecordID: fmt.Sprintf("bench-%d", i), Area: benchArea})
		if err != nil {
			return res, fmt.Errorf("upload photo %d: %w", i, err)
		}
		res.Bytes += int64(len(data))
		res.Sent += st.BytesSent
	}
	res.Seconds = time.Since(start).Seconds()
	res.Link, res.Cuts = px.Upstream(), px.Cuts()
	res.ResentRatio = float64(res.Link-res.Bytes) / float64(res.Bytes)
	res.ThroughputKBps = float64(res.Bytes) / res.Seconds / 1000
	for i, data := range photos {
		if err := verify(ctx, base, token, data); err != nil {
			return res, fmt.Errorf("photo %d: %w", i, err)
		}
	}
	return res, nil
}

const benchArea = "340199001001"

// evidencePhotos makes the compressed copies a tablet sends first over 2G.
func evidencePhotos(n int) ([][]byte, error) {
	out := make([][]byte, n)
	for i := range out {
		orig, err := photobench.JPEG(1600, 1200, uint64(1000+i), 88)
		if err != nil {
			return nil, err
		}
		if out[i], err = photo.CompressForEvidence(orig, 1024, 60); err != nil {
			return nil, fmt.Errorf("evidence copy: %w", err)
		}
	}
	return out, nil
}

func startServer(dir string) (string, func(), error) {
	st, err := boltstore.Open(filepath.Join(dir, "ruhu.db"), boltstore.Options{})
	if err != nil {
		return "", nil, err
	}
	blobs, err := diskstore.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		st.Close()
		return "", nil, err
	}
	reg, err := schemas.New()
	if err != nil {
		st.Close()
		return "", nil, err
	}
	err = server.AddUser(st.Core(), server.UserInput{Username: "bench", Password: "bench-password", Role: "officer", Scopes: []string{"340199"}}, time.Now())
	if err != nil && !errors.Is(err, server.ErrUserExists) {
		st.Close()
		return "", nil, err
	}
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), server.Config{Blobs: blobs}, st.Core(), reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return "", nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		st.Close()
	}, nil
}

func login(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/v1/auth/login", strings.NewReader(`{"username":"bench","password":"bench-password"}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("login: status %d: %v", resp.StatusCode, err)
	}
	return out.AccessToken, nil
}

func verify(ctx context.Context, base, token string, data []byte) error {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/blobs/"+sha, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || sha256.Sum256(got) != sum {
		return fmt.Errorf("server holds %d bytes (status %d), not the photo", len(got), resp.StatusCode)
	}
	return nil
}
