package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/jpeg"
	"path/filepath"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/ruhu-dev/ruhu/assets/diskstore"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/assets/signature"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// startEvidenceServer is a real server with a blob folder on disk, the
// test users and the standard seed.
func startEvidenceServer(t *testing.T, evidence server.EvidencePolicy) *testServer {
	t.Helper()
	blobs, err := diskstore.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("blob folder: %v", err)
	}
	return startServer(t, serverOptions{cfg: server.Config{Blobs: blobs, Evidence: evidence}, users: testUsers(), seed: standardSeed()})
}

// enrollWithKey enrolls another device for user and keeps its private key,
// for tests that sign.
func (ts *testServer) enrollWithKey(user string) (*session, ed25519.PrivateKey) {
	ts.t.Helper()
	s := &session{user: user, login: ts.as(user).login}
	priv := ts.enroll(s, "signing tablet of "+user)
	return s, priv
}

// mustAck pushes ops and fails unless every one is acknowledged.
func (ts *testServer) mustAck(s *session, ops ...syncengine.WireOp) {
	ts.t.Helper()
	resp := ts.push(s, ops...)
	for _, op := range ops {
		if !acked(resp, op.ID) {
			ts.t.Fatalf("op %s (%s/%s) not acknowledged: %+v", op.ID, op.Collection, op.RecordID, resp.Rejected)
		}
	}
}

// tus returns a tus client for s that gives up quickly.
func (ts *testServer) tus(s *session) *tusclient.Client {
	return &tusclient.Client{Endpoint: ts.url, Token: s.access, HTTP: ts.client, ChunkSize: 64 << 10, MaxFailures: 3,
		Backoff: func(int) time.Duration { return time.Millisecond }}
}

// upload sends data as the evidence of a record and requires success.
func (ts *testServer) upload(s *session, data []byte, col, id, area string) tusclient.Stats {
	ts.t.Helper()
	st, err := ts.tus(s).Upload(context.Background(), tusclient.File{Data: data, Kind: "photo", Collection: col, RecordID: id, Area: area})
	if err != nil {
		ts.t.Fatalf("upload for %s/%s: %v", col, id, err)
	}
	return st
}

// waitProcessed waits until the pipeline has processed every blob (ready
// or failed): perceptual hashes are computed in the background.
func (ts *testServer) waitProcessed(shas ...string) {
	ts.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, sha := range shas {
		for {
			b := ts.blobFacts(sha)
			if b != nil && b.Status != boltstore.BlobProcessing {
				break
			}
			if time.Now().After(deadline) {
				ts.t.Fatalf("blob %s not processed (%+v)", sha, b)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// blobFacts reads a blob's facts from the store (nil when absent).
func (ts *testServer) blobFacts(sha string) *boltstore.Blob {
	ts.t.Helper()
	var b *boltstore.Blob
	if err := ts.store.View(func(tx *boltstore.Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		ts.t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// housePhoto is a synthetic photo of a house; different seeds are
// different houses.
func housePhoto(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	b, err := photobench.JPEG(w, h, seed, 90)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resizedCopy is what someone passing a photo off as another household's
// does: decode, scale to width w, recompress at a lower quality.
func resizedCopy(t testing.TB, src []byte, w, quality int) []byte {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imaging.Resize(img, w, 0, imaging.Lanczos), &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signFields builds a signatures record over the signed record's current
// content, device-signed with priv as device.
func signFields(t testing.TB, priv ed25519.PrivateKey, device, signedCol, signedID string, content map[string]json.RawMessage, role, purpose string) map[string]any {
	t.Helper()
	contentSHA, err := signature.ContentSHA256(content)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"signer_name": "张三", "signer_role": role, "signed_collection": signedCol, "signed_record_id": signedID,
		"signed_content_sha256": contentSHA, "device_id": device, "signed_at": "2026-03-01T09:00:00+08:00", "purpose": purpose,
		"strokes": [][]map[string]float64{{{"x": 1, "y": 2, "t": 0}, {"x": 5, "y": 9, "t": 20}}}}
	ds, err := signature.Sign(priv, fields(set))
	if err != nil {
		t.Fatal(err)
	}
	set[signature.FieldDeviceSignature] = ds
	return set
}
