package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// evidenceTablet is a tablet with a household, a tus server, and helpers
// to queue evidence.
func evidenceTablet(t testing.TB, mod func(*client.Options)) (*fakeServer, *tusServer, *tablet) {
	t.Helper()
	f := newFakeServer(t)
	s := newTusServer(t, f)
	tb := newTablet(t, f, mod)
	tb.save(t, "households", "HH1", household("张建国"))
	return f, s, tb
}

func (tb *tablet) upload(t testing.TB, all bool) client.UploadReport {
	t.Helper()
	run := tb.Upload
	if all {
		run = tb.UploadAll
	}
	rep, err := run(context.Background(), nil)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return rep
}

func byClass(q []client.UploadItem, class string) []client.UploadItem {
	var out []client.UploadItem
	for _, it := range q {
		if it.Class == class {
			out = append(out, it)
		}
	}
	return out
}

// TestUploadOrderFollowsPolicy: signatures, then evidence copies, then
// originals, and originals only on an unmetered network or when forced.
func TestUploadOrderFollowsPolicy(t *testing.T) {
	metered := true
	_, s, tb := evidenceTablet(t, func(o *client.Options) { o.Metered = func() bool { return metered } })
	photoA := tb.attach(t, "HH1", "before", testJPEG(t, 2000, 1500, 11))
	sig := tb.sign(t, "households", "HH1")
	photoB := tb.attach(t, "HH1", "after", testJPEG(t, 2000, 1500, 12))
	q := queue(t, tb)
	if len(q) != 5 {
		t.Fatalf("queue %+v", q)
	}
	ev, orig, sigs := byClass(q, client.UploadEvidence), byClass(q, client.UploadOriginal), byClass(q, client.UploadSignature)
	if len(ev) != 2 || len(orig) != 2 || len(sigs) != 1 || ev[0].RecordID != photoA || ev[1].RecordID != photoB || sigs[0].RecordID != sig {
		t.Fatalf("queue %+v", q)
	}

	rep := tb.upload(t, false)
	want := []string{sigs[0].SHA256, ev[0].SHA256, ev[1].SHA256}
	if got := s.creates; !equalStrings(got, want) {
		t.Fatalf("metered upload order %v, want %v", got, want)
	}
	if rep.Uploaded != 3 || rep.Deferred != 2 || rep.Failed != 0 {
		t.Fatalf("metered report %+v", rep)
	}
	for _, it := range queue(t, tb) {
		wantState := client.UploadDone
		if it.Class == client.UploadOriginal {
			wantState = client.UploadWaiting
		}
		if it.State != wantState {
			t.Fatalf("%s item in state %s", it.Class, it.State)
		}
	}

	metered = false
	rep = tb.upload(t, false)
	want = append(want, orig[0].SHA256, orig[1].SHA256)
	if !equalStrings(s.creates, want) || rep.Uploaded != 2 || rep.Deferred != 0 {
		t.Fatalf("unmetered: order %v, report %+v", s.creates, rep)
	}
	for _, it := range q {
		if b := s.blob(it.SHA256); b == nil || hexSHA(b) != it.SHA256 {
			t.Fatalf("server lacks %s %s", it.Class, it.SHA256)
		}
	}
	// Uploaded files leave the tablet.
	if entries, _ := os.ReadDir(tb.path + ".blobs"); len(entries) != 0 {
		t.Fatalf("files left after upload: %v", entries)
	}
}

func TestUploadAllSendsOriginalsOnMeteredNetwork(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil) // nil Metered: metered
	tb.attach(t, "HH1", "during", testJPEG(t, 2000, 1500, 13))
	if rep := tb.upload(t, false); rep.Uploaded != 1 || rep.Deferred != 1 {
		t.Fatalf("Upload: %+v", rep)
	}
	if rep := tb.upload(t, true); rep.Uploaded != 1 || rep.Deferred != 0 {
		t.Fatalf("UploadAll: %+v", rep)
	}
	if len(s.creates) != 2 {
		t.Fatalf("creates %v", s.creates)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestUploadResumesAfterCutConnection: the connection drops in the middle
// of a chunk at 90 %; the server keeps what arrived of the chunk, and the
// client asks the offset and sends only the rest: not one byte twice.
func TestUploadResumesAfterCutConnection(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil)
	original := noisePNG(t, 600, 500, 21) // ≈ 1.2 MB
	tb.attach(t, "HH1", "before", original)
	orig := byClass(queue(t, tb), client.UploadOriginal)[0]
	cut := orig.Size * 9 / 10
	s.with(func(s *tusServer) { s.cutAt[orig.SHA256] = cut })

	rep := tb.upload(t, true)
	if !bytes.Equal(s.blob(orig.SHA256), original) {
		t.Fatal("server copy differs from the original")
	}
	if rep.Uploaded != 2 || rep.ChunkFailures != 1 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	s.mu.Lock()
	received := s.received[orig.SHA256]
	s.mu.Unlock()
	if received != int(orig.Size) || s.summed != 0 {
		t.Fatalf("server read %d bytes for a %d-byte file (%d checksummed chunks): the cut chunk was sent again", received, orig.Size, s.summed)
	}
	if s.chunked != len(s.patches) {
		t.Fatalf("%d of %d chunks went chunked, want all (a body of known length cut in its first 8 KiB is lost whole on the real server)", s.chunked, len(s.patches))
	}
	if s.heads == 0 {
		t.Fatal("client did not ask the offset after the cut")
	}
}

// TestUploadSendsLengthsWhenChunkedIsRefused: a proxy on the way answers
// 411 Length Required to chunked bodies; the run goes on with a
// Content-Length on every later chunk, nothing failed.
func TestUploadSendsLengthsWhenChunkedIsRefused(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil)
	original := noisePNG(t, 300, 300, 27)
	tb.attach(t, "HH1", "before", original)
	s.with(func(s *tusServer) { s.length = true })
	rep := tb.upload(t, true)
	if rep.Uploaded != 2 || rep.Failed != 0 || rep.ChunkFailures != 0 {
		t.Fatalf("report %+v", rep)
	}
	orig := byClass(queue(t, tb), client.UploadOriginal)[0]
	if !bytes.Equal(s.blob(orig.SHA256), original) {
		t.Fatal("server copy differs from the original")
	}
	if s.chunked != 1 || len(s.patches) < 2 {
		t.Fatalf("%d chunked PATCHes refused, %d PATCHes taken: want one refused, then lengths", s.chunked, len(s.patches))
	}
}

// TestUploadStartsOverWhenTheFileDoesNotHash: chunks carry no checksum of
// their own, so a chunk damaged on the way shows when the complete file
// does not hash to its sha256; the server drops the upload (460) and the
// client sends the file again in a new upload, in the same run.
func TestUploadStartsOverWhenTheFileDoesNotHash(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil)
	original := noisePNG(t, 300, 300, 25)
	tb.attach(t, "HH1", "before", original)
	tb.upload(t, false) // the evidence copy
	orig := byClass(queue(t, tb), client.UploadOriginal)[0]
	s.with(func(s *tusServer) { s.corrupt = 1 })

	rep := tb.upload(t, true)
	if rep.Uploaded != 1 || rep.Failed != 0 || rep.ChunkFailures != 1 {
		t.Fatalf("report %+v", rep)
	}
	if !bytes.Equal(s.blob(orig.SHA256), original) {
		t.Fatal("server copy differs from the original")
	}
	creates := 0
	for _, sha := range s.creates {
		if sha == orig.SHA256 {
			creates++
		}
	}
	s.mu.Lock()
	received := s.received[orig.SHA256]
	s.mu.Unlock()
	if creates != 2 || received != 2*int(orig.Size) {
		t.Fatalf("%d uploads created and %d bytes read for a %d-byte file, want 2 and twice the file", creates, received, orig.Size)
	}
}

// TestUploadResumesAfterRestart: the app is killed mid-upload; a new
// Client on the same file resumes from the server's offset with HEAD, not
// a new upload.
func TestUploadResumesAfterRestart(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil)
	original := noisePNG(t, 700, 500, 22) // ≈ 1.4 MB
	tb.attach(t, "HH1", "before", original)
	orig := byClass(queue(t, tb), client.UploadOriginal)[0]

	ctx, cancel := context.WithCancel(context.Background())
	var seen client.UploadProgress
	_, err := tb.UploadAll(ctx, func(p client.UploadProgress) {
		seen = p
		if p.Item.SHA256 == orig.SHA256 && p.Item.Sent >= orig.Size/3 {
			cancel() // the officer's tablet dies here
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload: %v", err)
	}
	if seen.Total != orig.Size+byClass(queue(t, tb), client.UploadEvidence)[0].Size || seen.Done <= 0 || seen.Items != 2 || seen.ItemsDone != 1 {
		t.Fatalf("last progress %+v", seen)
	}
	tb.reopen(t)
	var part client.UploadItem
	for _, it := range queue(t, tb) {
		if it.SHA256 == orig.SHA256 {
			part = it
		}
	}
	if part.State != client.UploadWaiting || part.Sent < orig.Size/3 || part.Sent >= orig.Size {
		t.Fatalf("after restart: %+v", part)
	}
	headsBefore := s.heads
	rep := tb.upload(t, true)
	if rep.Uploaded != 1 || rep.Resumed != 1 {
		t.Fatalf("report %+v", rep)
	}
	if s.heads == headsBefore {
		t.Fatal("no HEAD on resume")
	}
	creates := 0
	for _, sha := range s.creates {
		if sha == orig.SHA256 {
			creates++
		}
	}
	if creates != 1 {
		t.Fatalf("original created %d times", creates)
	}
	if !bytes.Equal(s.blob(orig.SHA256), original) {
		t.Fatal("server copy differs")
	}
	if rep.BytesSent > orig.Size-part.Sent+client.MaxChunkSize {
		t.Fatalf("sent %d bytes to finish %d", rep.BytesSent, orig.Size-part.Sent)
	}
}

// TestChunkSizeAdapts: chunks double while they are fast, halve on a
// failure, never go below the floor or above the ceiling.
func TestChunkSizeAdapts(t *testing.T) {
	t.Run("grows on a fast line, halves on failures", func(t *testing.T) {
		_, s, tb := evidenceTablet(t, nil)
		original := noisePNG(t, 1100, 1100, 23) // ≈ 4.8 MB
		tb.attach(t, "HH1", "before", original)
		orig := byClass(queue(t, tb), client.UploadOriginal)[0]
		tb.upload(t, false) // the evidence copy
		s.with(func(s *tusServer) {
			s.patches = nil
			n := 0
			s.onPatch = func() {
				n++
				if n == 7 || n == 8 {
					s.mu.Lock()
					s.fail503++
					s.mu.Unlock()
				}
			}
		})
		rep := tb.upload(t, true)
		const k = 1 << 10
		want := []int{64 * k, 128 * k, 256 * k, 512 * k, 1024 * k, 1024 * k, 1024 * k, 512 * k, 256 * k, 512 * k}
		got := s.patches
		if len(got) < len(want) {
			t.Fatalf("patches %v", got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("chunk sizes %v, want prefix %v", got, want)
			}
		}
		if rep.MaxChunk != client.MaxChunkSize || rep.MinChunk != client.StartChunkSize || rep.ChunkFailures != 2 {
			t.Fatalf("report %+v", rep)
		}
		if !bytes.Equal(s.blob(orig.SHA256), original) {
			t.Fatal("server copy differs")
		}
	})
	t.Run("a file's short tail does not grow it", func(t *testing.T) {
		_, s, tb := evidenceTablet(t, nil)
		tb.attach(t, "HH1", "before", noisePNG(t, 120, 120, 26)) // ≈ 57 KB, and its smaller evidence copy
		rep := tb.upload(t, true)
		if rep.Uploaded != 2 || rep.MaxChunk != client.StartChunkSize || rep.ChunkSize != client.StartChunkSize {
			t.Fatalf("report %+v, chunks %v", rep, s.patches)
		}
	})
	t.Run("slow line: floor at 16 KiB after failures, back to the start size and no further", func(t *testing.T) {
		_, s, tb := evidenceTablet(t, func(o *client.Options) { o.FastChunk = time.Nanosecond })
		tb.attach(t, "HH1", "before", noisePNG(t, 300, 300, 24))
		tb.upload(t, false) // the evidence copy
		s.with(func(s *tusServer) { s.patches = nil; s.fail503 = 4; s.corrupt = 1 })
		rep := tb.upload(t, true)
		if rep.Failed != 0 || rep.Uploaded != 1 || rep.Retries != 1 || rep.ChunkFailures != 5 || rep.MaxChunk != client.StartChunkSize || rep.MinChunk != client.MinChunkSize {
			t.Fatalf("report %+v", rep)
		}
		for _, n := range s.patches {
			if n > client.StartChunkSize {
				t.Fatalf("chunk of %d on a slow line: %v", n, s.patches)
			}
		}
		// 64 → 32 → 16 (three 503s: the item waits for the next pass) →
		// 16 (a fourth 503, at the floor) → 16 arrives → 32 → 64 → 64: four
		// failures halve it down to the floor, chunks that arrive grow it
		// back to the start size, and a slow line grows it no further.
		// The fifth failure is the corrupted chunk, found when the file
		// did not hash: the file starts over.
		const k = 1 << 10
		want := []int{64 * k, 32 * k, 16 * k, 16 * k, 16 * k, 32 * k, 64 * k, 64 * k}
		if len(s.patches) < len(want) || !slices.Equal(s.patches[:len(want)], want) {
			t.Fatalf("chunk sizes %v", s.patches)
		}
	})
}

// TestFailingUploadDoesNotBlockOthers: one file the server always refuses
// is retried with backoff after the others, then left failed with its
// reason; the next Upload tries it again.
func TestFailingUploadDoesNotBlockOthers(t *testing.T) {
	_, s, tb := evidenceTablet(t, func(o *client.Options) { o.MaxAttempts = 3 })
	photoA := tb.attach(t, "HH1", "before", testJPEG(t, 1800, 1200, 31))
	tb.sign(t, "households", "HH1")
	tb.attach(t, "HH1", "after", testJPEG(t, 1800, 1200, 32))
	var bad client.UploadItem
	for _, it := range queue(t, tb) {
		if it.RecordID == photoA && it.Class == client.UploadEvidence {
			bad = it
		}
	}
	s.with(func(s *tusServer) { s.failSHA[bad.SHA256] = true })

	rep := tb.upload(t, false)
	if rep.Uploaded != 2 || rep.Failed != 1 || rep.Retries != 2 {
		t.Fatalf("report %+v", rep)
	}
	if sl := tb.sleep.all(); len(sl) != 2 {
		t.Fatalf("backoff waits %v", sl)
	}
	for _, it := range queue(t, tb) {
		switch {
		case it.SHA256 == bad.SHA256:
			if it.State != client.UploadFailed || it.Code != syncengine.ETRANSIENT || it.Reason == "" || it.Attempts != 3 {
				t.Fatalf("failing item %+v", it)
			}
		case it.Class != client.UploadOriginal && it.State != client.UploadDone:
			t.Fatalf("item blocked: %+v", it)
		}
	}
	// The failing create came after the others in every pass but the first.
	if s.creates[0] == bad.SHA256 || s.creates[len(s.creates)-1] != bad.SHA256 {
		t.Fatalf("creates %v", s.creates)
	}

	s.with(func(s *tusServer) { delete(s.failSHA, bad.SHA256) })
	if rep := tb.upload(t, false); rep.Uploaded != 1 || rep.Failed != 0 {
		t.Fatalf("retry later: %+v", rep)
	}
	if s.blob(bad.SHA256) == nil {
		t.Fatal("failed file never arrived")
	}
}

func TestUploadDeduplicatesKnownBlobs(t *testing.T) {
	_, s, tb := evidenceTablet(t, nil)
	original := testJPEG(t, 1800, 1200, 41)
	tb.attach(t, "HH1", "before", original)
	ev := byClass(queue(t, tb), client.UploadEvidence)[0]
	evBytes, err := os.ReadFile(tb.path + ".blobs/" + ev.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	s.with(func(s *tusServer) { s.blobs[ev.SHA256] = evBytes })
	rep := tb.upload(t, false)
	if rep.Uploaded != 1 || rep.Deduplicated != 1 || rep.BytesSent != 0 || len(s.patches) != 0 {
		t.Fatalf("report %+v, patches %v", rep, s.patches)
	}
	if it := byClass(queue(t, tb), client.UploadEvidence)[0]; !it.Deduplicated || it.State != client.UploadDone || it.Sent != it.Size {
		t.Fatalf("item %+v", it)
	}
}

func TestUploadRefreshesExpiredToken(t *testing.T) {
	f, s, tb := evidenceTablet(t, nil)
	tb.sign(t, "households", "HH1")
	f.expireAccessTokens()
	rep := tb.upload(t, false)
	if rep.Uploaded != 1 || f.refreshes != 1 || len(s.blobs) != 1 {
		t.Fatalf("report %+v, refreshes %d", rep, f.refreshes)
	}
}

func TestRevokedDeviceLosesItsEvidenceFiles(t *testing.T) {
	f, _, tb := evidenceTablet(t, nil)
	tb.attach(t, "HH1", "before", testJPEG(t, 1800, 1200, 51))
	if entries, _ := os.ReadDir(tb.path + ".blobs"); len(entries) != 2 {
		t.Fatalf("files %v", entries)
	}
	st := tb.status(t)
	f.set(func(f *fakeServer) { f.revoked[st.DeviceID] = true })
	_, err := tb.Upload(context.Background(), nil)
	if syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("upload on a revoked device: %v", err)
	}
	if _, err := os.Stat(tb.path + ".blobs"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("evidence folder survived the wipe: %v", err)
	}
	if _, err := tb.UploadQueue(); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("queue after wipe: %v", err)
	}
}

func TestUploadNeedsEnrollment(t *testing.T) {
	c, err := client.Open(t.TempDir()+"/t.db", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Upload(context.Background(), nil); syncengine.ErrorCode(err) != syncengine.EUNAUTHORIZED {
		t.Fatalf("got %v", err)
	}
}
