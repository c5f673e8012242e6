package uploads_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// blobRefs reads the references of a blob straight from the store.
func (e *env) blobRefs(sha string) []boltstore.BlobRef {
	e.t.Helper()
	var b *boltstore.Blob
	if err := e.store.View(func(tx *boltstore.Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		e.t.Fatal(err)
	}
	if b == nil {
		return nil
	}
	return b.Refs
}

// putRecord stores a record as if a tablet of its area had pushed it.
func (e *env) putRecord(collection, id, area string, fields map[string]string) {
	e.t.Helper()
	set := map[string]json.RawMessage{}
	for k, v := range fields {
		set[k], _ = json.Marshal(v)
	}
	op := &syncengine.Op{ID: "op-" + id, RecordID: id, Collection: collection, Area: area, Author: "seed", Device: "dev-seed",
		HLC: syncengine.MakeHLC(e.clock.Now().UnixMilli(), 0), Set: set}
	err := e.store.Update(func(tx *boltstore.Tx) error {
		_, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, e.clock.Now())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestBlobHashAloneGrantsNothing reproduces issue 10, bug 1: an officer of
// another township sent a tus creation naming the sha256 and size of a
// photo it never had, for a record of its own area. The server completed
// the upload at once (dedup), added a reference in the officer's area, and
// served the photo. Now the creation stays open at offset 0, no reference
// is added, wrong bytes are refused with 460, and only the real bytes
// (proof of possession) add the reference.
func TestBlobHashAloneGrantsNothing(t *testing.T) {
	e := startEnv(t, envOptions{})
	photo := testJPEG(t, 320, 240, 41)
	sha := hexSHA(photo)
	if _, err := e.client("zhou").Upload(t.Context(), tusclient.File{Data: photo, Kind: "photo", Collection: "photos", RecordID: "p-zhou", Area: areaVX}); err != nil {
		t.Fatal(err)
	}
	e.waitBlob(sha)

	// The exact request of the report: the victim's sha256 and size, the
	// attacker's own record and area, no body.
	p, a := e.create("wang", photo, "p-wang", areaV1)
	if a.status != 201 || p == "" {
		t.Fatalf("create: %s", a)
	}
	if off := a.header.Get("Upload-Offset"); off != "0" {
		t.Fatalf("Upload-Offset %q after naming a blob the caller cannot read: the hash alone completed the upload", off)
	}
	if refs := e.blobRefs(sha); len(refs) != 1 || refs[0].Area != areaVX {
		t.Fatalf("refs before any proof: %+v", refs)
	}
	if got := e.do("GET", "/v1/blobs/"+sha, "wang", nil, nil); got.status != 404 {
		t.Fatalf("GET the blob by its hash alone: %d, %d bytes", got.status, len(got.body))
	}
	if h := e.do("HEAD", p, "wang", nil, nil); h.status != 200 || h.header.Get("Upload-Offset") != "0" {
		t.Fatalf("HEAD: %s offset %q", h, h.header.Get("Upload-Offset"))
	}

	// Bytes of the same length that are not the photo prove nothing.
	fake := bytes.Repeat([]byte{0xAB}, len(photo))
	if a := e.patch("wang", p, 0, fake, nil); a.status != 460 || a.code() != "EINVALID" {
		t.Fatalf("wrong bytes: %s, want 460 EINVALID", a)
	}
	if refs := e.blobRefs(sha); len(refs) != 1 {
		t.Fatalf("refs after wrong bytes: %+v", refs)
	}
	if got := e.do("GET", "/v1/blobs/"+sha, "wang", nil, nil); got.status != 404 {
		t.Fatalf("GET after wrong bytes: %d", got.status)
	}

	// The real bytes are the proof: the reference is added and the stored
	// blob (same content address) is served.
	p, a = e.create("wang", photo, "p-wang", areaV1)
	if a.status != 201 || a.header.Get("Upload-Offset") != "0" {
		t.Fatalf("second create: %s", a)
	}
	if a := e.patch("wang", p, 0, photo, nil); a.status != 204 || a.header.Get("Upload-Offset") != fmt.Sprint(len(photo)) {
		t.Fatalf("proof by bytes: %s", a)
	}
	refs := e.blobRefs(sha)
	if len(refs) != 2 || refs[1].Area != areaV1 || refs[1].UploadedBy != "wang" {
		t.Fatalf("refs after proof: %+v", refs)
	}
	if got := e.do("GET", "/v1/blobs/"+sha, "wang", nil, nil); got.status != 200 || !bytes.Equal(got.body, photo) {
		t.Fatalf("GET after proof: %d, %d bytes", got.status, len(got.body))
	}

	// Someone who can already read the blob needs no proof: li (same
	// township as wang) completes at once, as dedup always did.
	st, err := e.client("li").Upload(t.Context(), tusclient.File{Data: photo, Kind: "photo", Collection: "photos", RecordID: "p-li", Area: areaV1})
	if err != nil || !st.Deduped || st.BytesSent != 0 {
		t.Fatalf("dedup for a reader of the blob: %+v %v", st, err)
	}
}

// TestOutOfScopeLooksUnknown reproduces the uploads part of issue 10,
// bug 2: a tus creation for another area's existing record answered 403
// "belongs to another area" while an unknown id was accepted. Each pair
// below must answer the same status, code and message (ids aside).
func TestOutOfScopeLooksUnknown(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.putRecord("photos", "p-other", areaVX, map[string]string{"stage": "before"})
	e.putRecord("photos", "p-next-village", "340199001002", map[string]string{"stage": "before"})
	hidden := testJPEG(t, 200, 150, 42)
	if _, err := e.client("zhou").Upload(t.Context(), tusclient.File{Data: hidden, Kind: "photo", Collection: "photos", RecordID: "p-other", Area: areaVX}); err != nil {
		t.Fatal(err)
	}
	e.waitBlob(hexSHA(hidden))
	zhouUpload, a := e.create("zhou", testJPEG(t, 64, 48, 43), "p-other", areaVX)
	if a.status != 201 {
		t.Fatal(a)
	}
	unknownSHA := strings.Repeat("ab", 32)
	data := testJPEG(t, 64, 48, 44)
	creation := func(rec string) func() answer {
		return func() answer {
			return e.do("POST", "/v1/uploads", "wang", map[string]string{"Upload-Length": fmt.Sprint(len(data)),
				"Upload-Metadata": meta("sha256", hexSHA(data), "kind", "photo", "collection", "photos", "record_id", rec, "area", areaV1)}, nil)
		}
	}
	tests := []struct {
		name            string
		outOfScope      func() answer
		unknown         func() answer
		outID, unknowID string
	}{
		{"tus creation for a record", creation("p-other"), creation("p-nobody"), "p-other", "p-nobody"},
		{"blob bytes", func() answer { return e.do("GET", "/v1/blobs/"+hexSHA(hidden), "wang", nil, nil) },
			func() answer { return e.do("GET", "/v1/blobs/"+unknownSHA, "wang", nil, nil) }, hexSHA(hidden), unknownSHA},
		{"blob thumbnail", func() answer { return e.do("GET", "/v1/blobs/"+hexSHA(hidden)+"?size=thumb", "wang", nil, nil) },
			func() answer { return e.do("GET", "/v1/blobs/"+unknownSHA+"?size=thumb", "wang", nil, nil) }, hexSHA(hidden), unknownSHA},
		{"blob info", func() answer { return e.do("GET", "/v1/blobs/"+hexSHA(hidden)+"/info", "wang", nil, nil) },
			func() answer { return e.do("GET", "/v1/blobs/"+unknownSHA+"/info", "wang", nil, nil) }, hexSHA(hidden), unknownSHA},
		{"another user's upload (HEAD)", func() answer { return e.do("HEAD", zhouUpload, "wang", nil, nil) },
			func() answer { return e.do("HEAD", "/v1/uploads/0123456789abcdef0123456789abcdef", "wang", nil, nil) },
			strings.TrimPrefix(zhouUpload, "/v1/uploads/"), "0123456789abcdef0123456789abcdef"},
		{"another user's upload (PATCH)", func() answer { return e.patch("wang", zhouUpload, 0, data[:10], nil) },
			func() answer {
				return e.patch("wang", "/v1/uploads/0123456789abcdef0123456789abcdef", 0, data[:10], nil)
			},
			strings.TrimPrefix(zhouUpload, "/v1/uploads/"), "0123456789abcdef0123456789abcdef"},
		{"another user's upload (DELETE)", func() answer { return e.do("DELETE", zhouUpload, "wang", nil, nil) },
			func() answer { return e.do("DELETE", "/v1/uploads/0123456789abcdef0123456789abcdef", "wang", nil, nil) },
			strings.TrimPrefix(zhouUpload, "/v1/uploads/"), "0123456789abcdef0123456789abcdef"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, unk := tc.outOfScope(), tc.unknown()
			norm := func(a answer, id string) string {
				return strings.ReplaceAll(string(a.body), id, "ID")
			}
			if out.status != unk.status || out.code() != unk.code() || norm(out, tc.outID) != norm(unk, tc.unknowID) {
				t.Errorf("out of scope answers %s\nunknown answers      %s", out, unk)
			}
			if out.status == 403 {
				t.Errorf("out of scope refused with 403: %s", out)
			}
		})
	}
	// Nothing above touched zhou's upload or blob.
	if h := e.do("HEAD", zhouUpload, "zhou", nil, nil); h.status != 200 {
		t.Errorf("zhou's upload after the probes: %s", h)
	}
	if refs := e.blobRefs(hexSHA(hidden)); len(refs) != 1 {
		t.Errorf("hidden blob refs: %+v", refs)
	}
	// A record the caller can see, claimed for another of its areas, is
	// refused plainly: that tells nothing the caller cannot read anyway.
	if a := creation("p-next-village")(); a.status != 400 || a.code() != "EINVALID" || !strings.Contains(string(a.body), "340199001002") {
		t.Errorf("visible record in another area: %s", a)
	}
}

// TestHostilePNGUploadsStayWithinMemory reproduces issue 10, bug 4: two
// valid 7000×7000 16-bit RGBA PNGs (381 KB each) uploaded back to back
// took the server from 84 MB to 907 MB resident (this test measured 901
// MiB peak before the decoding budget, 70 MiB after). Both now fail before
// decoding, with a reason, and the process stays under 300 MB.
func TestHostilePNGUploadsStayWithinMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates two 7000×7000 PNGs")
	}
	e := startEnv(t, envOptions{maxSize: 2 << 20})
	pngs, err := photobench.HostilePNGs(7000, 7000, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	for i, data := range pngs {
		if _, err := e.client("wang").Upload(t.Context(), tusclient.File{Data: data, Kind: "photo", Collection: "photos",
			RecordID: fmt.Sprintf("p-huge-%d", i), Area: areaV1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, data := range pngs {
		if b := e.waitBlob(hexSHA(data)); b.Status != boltstore.BlobFailed || !strings.Contains(b.Reason, "memory") {
			t.Errorf("blob %s: %s (%s), want failed for memory", b.SHA256[:8], b.Status, b.Reason)
		}
	}
	peak, err := photobench.PeakRSSMB()
	if err != nil {
		t.Skipf("peak RSS unknown: %v", err)
	}
	t.Logf("peak RSS %.0f MiB", peak)
	if peak > 300 {
		t.Errorf("peak RSS %.0f MiB under two hostile PNGs, want under 300", peak)
	}
}
