package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/signature"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// testJPEG makes a camera-like JPEG: a smooth gradient with grain, so the
// evidence copy (≤ photo.EvidenceSide px, photo.EvidenceQuality) is much
// smaller than it.
func testJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := uint8(r.IntN(24))
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128 + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noisePNG makes an incompressible PNG of about 4·w·h bytes: a big
// original for the upload tests.
func noisePNG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 9))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (tb *tablet) attach(t testing.TB, household, stage string, original []byte) string {
	t.Helper()
	id, err := tb.AttachPhoto(context.Background(), client.PhotoAttachment{
		HouseholdID: household, Stage: stage, Original: original,
		CapturedAt: time.Date(2025, 11, 3, 9, 30, 0, 0, time.FixedZone("CST", 8*3600)),
		GPS:        &client.GPS{Lat: 31.86, Lon: 117.28, AccuracyM: 8},
	})
	if err != nil {
		t.Fatalf("attach photo: %v", err)
	}
	return id
}

var signatureStrokes = []client.Stroke{
	{{X: 10, Y: 40, T: 0}, {X: 30, Y: 10, T: 16}, {X: 50, Y: 42, T: 33}, {X: 70, Y: 12, T: 50}},
	{{X: 90, Y: 25, T: 400}, {X: 140, Y: 26.5, T: 430}},
	{{X: 160, Y: 30, T: 800}},
}

func (tb *tablet) sign(t testing.TB, collection, id string) string {
	t.Helper()
	sid, err := tb.CaptureSignature(context.Background(), client.SignatureCapture{
		SignerName: "张建国", SignerRole: "household_head", SignedCollection: collection, SignedRecordID: id,
		Purpose: "visit", Strokes: signatureStrokes,
	})
	if err != nil {
		t.Fatalf("capture signature: %v", err)
	}
	return sid
}

func queue(t testing.TB, tb *tablet) []client.UploadItem {
	t.Helper()
	q, err := tb.UploadQueue()
	if err != nil {
		t.Fatalf("upload queue: %v", err)
	}
	return q
}

func TestAttachPhotoWritesRecordAndQueueTogetherDurably(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "HH1", household("张建国"))
	original := testJPEG(t, 2400, 1800, 1)
	id := tb.attach(t, "HH1", "before", original)

	tb.reopen(t)
	rec, err := tb.Get(client.CollectionPhotos, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Area != testArea || !rec.Pending || rec.String("household_id") != "HH1" || rec.String("stage") != "before" ||
		rec.String("captured_at") != "2025-11-03T09:30:00+08:00" {
		t.Fatalf("photos record: %+v", rec.Values)
	}
	q := queue(t, tb)
	if len(q) != 2 {
		t.Fatalf("queue: %+v", q)
	}
	ev, orig := q[0], q[1]
	if ev.Class != client.UploadEvidence || orig.Class != client.UploadOriginal {
		t.Fatalf("classes %s, %s", ev.Class, orig.Class)
	}
	if rec.String("blob_sha256") != ev.SHA256 {
		t.Fatalf("record cites %s, evidence copy is %s", rec.String("blob_sha256"), ev.SHA256)
	}
	if orig.SHA256 != hexSHA(original) || orig.Size != int64(len(original)) {
		t.Fatalf("original queued as %s/%d", orig.SHA256, orig.Size)
	}
	for _, it := range q {
		if it.State != client.UploadWaiting || it.Sent != 0 || it.Collection != client.CollectionPhotos || it.RecordID != id ||
			it.Area != testArea || it.Kind != "photo" {
			t.Fatalf("queue item %+v", it)
		}
	}
	evBytes, err := os.ReadFile(filepath.Join(tb.path+".blobs", ev.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(evBytes))
	if err != nil || format != "jpeg" || max(cfg.Width, cfg.Height) != photo.EvidenceSide || hexSHA(evBytes) != ev.SHA256 {
		t.Fatalf("evidence copy: %s %dx%d %v", format, cfg.Width, cfg.Height, err)
	}
	if len(evBytes) >= len(original) {
		t.Fatalf("evidence copy %d bytes, original %d", len(evBytes), len(original))
	}
	if b, err := os.ReadFile(filepath.Join(tb.path+".blobs", orig.SHA256)); err != nil || !bytes.Equal(b, original) {
		t.Fatalf("original not kept byte for byte: %v", err)
	}
	if st := tb.status(t); st.Pending != 2 {
		t.Fatalf("outbox holds %d ops, want the household and the photo", st.Pending)
	}
}

func TestAttachPhotoRefusedWritesNothing(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "HH1", household("张建国"))
	tests := map[string]client.PhotoAttachment{
		"not an image":       {HouseholdID: "HH1", Stage: "before", Original: []byte("GIF89a not a photo")},
		"truncated JPEG":     {HouseholdID: "HH1", Stage: "before", Original: testJPEG(t, 64, 64, 2)[:300]},
		"no household":       {Stage: "before", Original: testJPEG(t, 64, 64, 3)},
		"household not here": {HouseholdID: "HH9", Stage: "before", Original: testJPEG(t, 64, 64, 4)},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := tb.AttachPhoto(context.Background(), p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if q := queue(t, tb); len(q) != 0 {
		t.Fatalf("queue after refusals: %+v", q)
	}
	if entries, _ := os.ReadDir(tb.path + ".blobs"); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
	if st := tb.status(t); st.Pending != 1 {
		t.Fatalf("outbox %d", st.Pending)
	}
}

func TestSmallJPEGIsItsOwnEvidenceCopy(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "HH1", household("张建国"))
	// A low-quality small JPEG: re-encoding at photo.EvidenceQuality cannot
	// make it smaller.
	img, err := jpeg.Decode(bytes.NewReader(testJPEG(t, 800, 600, 5)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 30}); err != nil {
		t.Fatal(err)
	}
	id := tb.attach(t, "HH1", "after", buf.Bytes())
	q := queue(t, tb)
	if len(q) != 1 || q[0].Class != client.UploadEvidence || q[0].SHA256 != hexSHA(buf.Bytes()) {
		t.Fatalf("queue %+v", q)
	}
	if rec, _ := tb.Get(client.CollectionPhotos, id); rec.String("blob_sha256") != hexSHA(buf.Bytes()) {
		t.Fatalf("record cites %s", rec.String("blob_sha256"))
	}
}

func TestCaptureSignatureSignsCurrentContent(t *testing.T) {
	f := newFakeServer(t)
	annotations := func(col string) syncengine.MergePolicy {
		if col == "visits" {
			return syncengine.MergePolicy{AppendOnly: true, Annotations: []string{"review_note", "review_status"}}
		}
		if col == "signatures" || col == "photos" {
			return syncengine.MergePolicy{AppendOnly: true}
		}
		return syncengine.MergePolicy{}
	}
	tb := newTablet(t, f, func(o *client.Options) { o.Policy = annotations })
	tb.save(t, "households", "HH1", household("张建国"))
	tb.save(t, "visits", "V1", map[string]any{"household_id": "HH1", "officer": fakeUser, "visited_at": "2025-11-03T09:00:00+08:00",
		"notes": "屋顶漏雨", "checklist": map[string]string{"food": "ok", "housing": "problem"}})
	visitSig := tb.sign(t, "visits", "V1")
	householdSig := tb.sign(t, "households", "HH1")
	tb.reopen(t)

	pub, err := tb.DevicePublicKey()
	if err != nil {
		t.Fatal(err)
	}
	status := func(sigID, col, id string) string {
		t.Helper()
		sig, err := tb.Get(client.CollectionSignatures, sigID)
		if err != nil {
			t.Fatal(err)
		}
		target, err := tb.Get(col, id)
		if err != nil {
			t.Fatal(err)
		}
		return signature.Status(sig.Values, signature.Content(target.Values, annotations(col).Annotations), pub)
	}
	if s := status(visitSig, "visits", "V1"); s != signature.StatusValid {
		t.Fatalf("fresh visit signature: %s", s)
	}
	sig, _ := tb.Get(client.CollectionSignatures, visitSig)
	visit, _ := tb.Get("visits", "V1")
	want, _ := signature.ContentSHA256(signature.Content(visit.Values, []string{"review_note", "review_status"}))
	st := tb.status(t)
	if sig.String("signed_content_sha256") != want || sig.String("device_id") != st.DeviceID || sig.Area != testArea ||
		sig.String("signer_name") != "张建国" || sig.String("signer_role") != "household_head" || sig.String("purpose") != "visit" {
		t.Fatalf("signature record %v", sig.Values)
	}
	var strokes []client.Stroke
	if err := json.Unmarshal(sig.Values["strokes"], &strokes); err != nil || len(strokes) != 3 || strokes[1][1].Y != 26.5 {
		t.Fatalf("strokes %s: %v", sig.Values["strokes"], err)
	}

	// The PNG is queued first-class and is the image the record cites.
	q := queue(t, tb)
	if len(q) != 2 || q[0].Class != client.UploadSignature || q[0].Kind != "signature" || q[0].SHA256 != sig.String("image_sha256") ||
		q[0].RecordID != visitSig || q[0].Collection != client.CollectionSignatures {
		t.Fatalf("queue %+v", q)
	}
	pngBytes, err := os.ReadFile(filepath.Join(tb.path+".blobs", q[0].SHA256))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatalf("signature image: %v", err)
	}
	dark := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				dark++
			}
		}
	}
	if b.Dx() > 600 || b.Dy() > 240 || dark < 200 || dark > b.Dx()*b.Dy()/4 {
		t.Fatalf("signature image %v with %d ink pixels", b, dark)
	}

	// A reviewer's annotation does not touch what the household signed.
	if _, err := tb.Save(context.Background(), "visits", "V1", "", raw(t, map[string]any{"review_note": "复核：属实"})); err != nil {
		t.Fatal(err)
	}
	if s := status(visitSig, "visits", "V1"); s != signature.StatusValid {
		t.Fatalf("after a review note: %s", s)
	}
	// Editing the signed household makes its signature stale.
	if s := status(householdSig, "households", "HH1"); s != signature.StatusValid {
		t.Fatalf("fresh household signature: %s", s)
	}
	tb.save(t, "households", "HH1", map[string]any{"phone": "13900000000"})
	if s := status(householdSig, "households", "HH1"); s != signature.StatusStale {
		t.Fatalf("after editing the household: %s", s)
	}
	// Another device's key does not verify it.
	otherPub, _, _ := ed25519.GenerateKey(nil)
	hh, _ := tb.Get("households", "HH1")
	hs, _ := tb.Get(client.CollectionSignatures, householdSig)
	if s := signature.Status(hs.Values, hh.Values, otherPub); s != signature.StatusInvalid {
		t.Fatalf("other device's key: %s", s)
	}
}

func TestCaptureSignatureRefusals(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	tb.save(t, "households", "HH1", household("张建国"))
	many := make([]client.Stroke, 201)
	for i := range many {
		many[i] = client.Stroke{{X: 1, Y: 1}}
	}
	tests := []struct {
		name string
		in   client.SignatureCapture
		code string
	}{
		{"no strokes", client.SignatureCapture{SignerName: "张", SignerRole: "other", SignedCollection: "households", SignedRecordID: "HH1"}, syncengine.EINVALID},
		{"empty strokes", client.SignatureCapture{SignerName: "张", SignerRole: "other", SignedCollection: "households", SignedRecordID: "HH1", Strokes: []client.Stroke{{}}}, syncengine.EINVALID},
		{"too many strokes", client.SignatureCapture{SignerName: "张", SignerRole: "other", SignedCollection: "households", SignedRecordID: "HH1", Strokes: many}, syncengine.EINVALID},
		{"record not on tablet", client.SignatureCapture{SignerName: "张", SignerRole: "other", SignedCollection: "visits", SignedRecordID: "V404", Strokes: signatureStrokes}, syncengine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tb.CaptureSignature(context.Background(), tt.in)
			if syncengine.ErrorCode(err) != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	if q := queue(t, tb); len(q) != 0 {
		t.Fatalf("queue %+v", q)
	}
	if entries, _ := os.ReadDir(tb.path + ".blobs"); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
}

func TestAttachPhotoToHousingCaseTakesItsArea(t *testing.T) {
	f := newFakeServer(t)
	tb := newTablet(t, f, nil)
	const caseArea = "340199001002"
	if _, err := tb.Save(context.Background(), client.CollectionHousingCases, "C1", caseArea,
		raw(t, map[string]any{"household_id": "HH1", "grade": "D"})); err != nil {
		t.Fatal(err)
	}
	id, err := tb.AttachPhoto(context.Background(), client.PhotoAttachment{CaseID: "C1", Stage: "during", Original: testJPEG(t, 1700, 1000, 6)})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := tb.Get(client.CollectionPhotos, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Area != caseArea || rec.String("case_id") != "C1" || rec.Values["household_id"] != nil {
		t.Fatalf("photos record in %s: %v", rec.Area, rec.Values)
	}
	for _, it := range queue(t, tb) {
		if it.Area != caseArea {
			t.Fatalf("queued for area %s", it.Area)
		}
	}
}
