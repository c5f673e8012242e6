package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/bits"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/assets/signature"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/uploads"
	"github.com/ruhu-dev/ruhu/server/uploads/tusclient"
)

// TestManifestCompletesWithTheLastUpload: a visit citing three photos is
// incomplete, naming what is missing, until the third file arrives.
func TestManifestCompletesWithTheLastUpload(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	wang := ts.as("wang")
	photos := [][]byte{housePhoto(t, 320, 240, 1), housePhoto(t, 320, 240, 2), housePhoto(t, 320, 240, 3)}
	var shas []string
	for _, p := range photos {
		shas = append(shas, sha256Hex(p))
	}
	set := visitFields("hV1a", "wang")
	set["photo_sha256s"] = shas
	ts.mustAck(wang, ts.op(wang, "op-visE", "visits", "visE", areaV1, set))
	sorted := slices.Sorted(slices.Values(shas))

	if ev := ts.record(wang.access, "households", "hV1a").Evidence; ev != nil {
		t.Errorf("a household cites no files but shows a manifest %+v", ev)
	}
	for i, p := range photos {
		ev := ts.record(wang.access, "visits", "visE").Evidence
		if ev == nil || ev.Status != server.EvidenceIncomplete || !slices.Equal(ev.Cited, sorted) {
			t.Fatalf("after %d uploads: manifest %+v, want incomplete citing %v", i, ev, sorted)
		}
		want := slices.Sorted(slices.Values(shas[i:]))
		if !slices.Equal(ev.Missing, want) {
			t.Fatalf("after %d uploads: missing %v, want %v", i, ev.Missing, want)
		}
		ts.upload(wang, p, "visits", "visE", areaV1)
	}
	ev := ts.record(ts.as("township").login, "visits", "visE").Evidence
	if ev == nil || ev.Status != server.EvidenceComplete || len(ev.Missing) != 0 || len(ev.Cited) != 3 {
		t.Fatalf("after the third upload: %+v, want complete", ev)
	}
}

// TestUploadThatNeverArrivesDelaysNothing: one photo's upload stalls half
// way and its retries carry bytes that never hash right; meanwhile pushes
// are acknowledged, other uploads complete and the records citing only
// those are complete. Only the record citing the lost photo stays
// incomplete.
func TestUploadThatNeverArrivesDelaysNothing(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	wang := ts.as("wang")
	good1, good2, lost := housePhoto(t, 320, 240, 11), housePhoto(t, 320, 240, 12), housePhoto(t, 640, 480, 13)
	v1 := visitFields("hV1a", "wang")
	v1["photo_sha256s"] = []string{sha256Hex(good1), sha256Hex(lost)}
	v2 := visitFields("hV2a", "wang")
	v2["photo_sha256s"] = []string{sha256Hex(good2)}
	ts.mustAck(wang, ts.op(wang, "op-v1", "visits", "v1", areaV1, v1))

	// The lost photo: half of it arrives, then the connection is gone.
	meta := uploads.EncodeMetadata([]string{"sha256", "kind", "collection", "record_id", "area"}, map[string]string{
		"sha256": sha256Hex(lost), "kind": "photo", "collection": "visits", "record_id": "v1", "area": areaV1})
	created := ts.do("POST", uploads.PathPrefix, wang.access, nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(lost)), "Upload-Metadata", meta)
	if created.status != http.StatusCreated {
		t.Fatalf("create upload: %s", created)
	}
	loc := created.header.Get("Location")
	half := ts.do("PATCH", loc, wang.access, lost[:len(lost)/2], "Tus-Resumable", "1.0.0",
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")
	if half.status != http.StatusNoContent {
		t.Fatalf("patch half: %s", half)
	}
	// A retry from a tablet whose copy of the file is damaged: the server
	// refuses it whole (460) and stores nothing.
	damaged := bytes.Clone(lost)
	damaged[len(damaged)/2] ^= 0xff
	_, err := ts.tus(wang).Upload(context.Background(), tusclient.File{Data: damaged, SHA256: sha256Hex(lost), Kind: "photo",
		Collection: "visits", RecordID: "v1", Area: areaV1})
	var te *tusclient.Error
	if !errors.As(err, &te) || te.Status != 460 {
		t.Fatalf("damaged upload: %v, want a 460 refusal", err)
	}

	// Everything else goes on.
	ts.mustAck(wang, ts.op(wang, "op-v2", "visits", "v2", areaV2, v2),
		ts.op(wang, "op-phone", "households", "hV1a", areaV1, map[string]any{"phone": "13900000001"}))
	ts.upload(wang, good1, "visits", "v1", areaV1)
	ts.upload(wang, good2, "visits", "v2", areaV2)

	if ev := ts.record(wang.access, "visits", "v2").Evidence; ev == nil || ev.Status != server.EvidenceComplete {
		t.Errorf("v2 cites only a photo that arrived: %+v", ev)
	}
	ev := ts.record(wang.access, "visits", "v1").Evidence
	if ev == nil || ev.Status != server.EvidenceIncomplete || !slices.Equal(ev.Missing, []string{sha256Hex(lost)}) {
		t.Errorf("v1 waits for the lost photo only: %+v", ev)
	}
	// The stalled upload is still where it stopped, ready to resume.
	head := ts.do("HEAD", loc, wang.access, nil, "Tus-Resumable", "1.0.0")
	if head.status != http.StatusOK || head.header.Get("Upload-Offset") != strconv.Itoa(len(lost)/2) {
		t.Errorf("stalled upload: %d offset %q, want %d", head.status, head.header.Get("Upload-Offset"), len(lost)/2)
	}
}

// TestVerifiedBlobIsNeverReplaced: once a blob is verified, an upload
// claiming its sha256 with other bytes changes nothing (same length: it
// completes at once as a duplicate; other length: refused with 460), and
// a case citing another photo later keeps the old citation in its
// history.
func TestVerifiedBlobIsNeverReplaced(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	wang := ts.as("wang")
	first, second := housePhoto(t, 320, 240, 21), housePhoto(t, 320, 240, 22)
	sha := sha256Hex(first)
	ts.mustAck(wang, ts.op(wang, "op-hc1", "housing_cases", "hcE", areaV1, map[string]any{"household_id": "hV1a", "grade": "C", "photo_sha256s": []string{sha}}))
	ts.upload(wang, first, "housing_cases", "hcE", areaV1)
	if ev := ts.record(wang.access, "housing_cases", "hcE").Evidence; ev == nil || ev.Status != server.EvidenceComplete {
		t.Fatalf("case evidence after upload: %+v", ev)
	}

	impostor := housePhoto(t, 320, 240, 23)
	impostor = append(impostor[:0:0], impostor...)
	for len(impostor) < len(first) {
		impostor = append(impostor, 0)
	}
	impostor = impostor[:len(first)]
	st, err := ts.tus(wang).Upload(context.Background(), tusclient.File{Data: impostor, SHA256: sha, Kind: "photo",
		Collection: "housing_cases", RecordID: "hcE", Area: areaV1})
	if err != nil || !st.Deduped || st.BytesSent != 0 {
		t.Fatalf("same-length impostor: %+v, %v; want an instant duplicate that sends nothing", st, err)
	}
	longer := append(bytes.Clone(impostor), "more bytes"...)
	_, err = ts.tus(wang).Upload(context.Background(), tusclient.File{Data: longer, SHA256: sha, Kind: "photo",
		Collection: "housing_cases", RecordID: "hcE", Area: areaV1})
	var te *tusclient.Error
	if !errors.As(err, &te) || te.Status != 460 {
		t.Fatalf("longer impostor: %v, want a 460 refusal", err)
	}
	if got := ts.getBlob(wang.access, sha); !bytes.Equal(got, first) {
		t.Fatalf("the blob's bytes changed: %d bytes, want the %d first ones", len(got), len(first))
	}
	if b := ts.blobFacts(sha); b == nil || b.Size != int64(len(first)) {
		t.Fatalf("blob facts %+v", b)
	}

	// The case now cites another photo: a new op; the old citation stays
	// in history.
	sha2 := sha256Hex(second)
	ts.mustAck(wang, ts.op(wang, "op-hc2", "housing_cases", "hcE", areaV1, map[string]any{"photo_sha256s": []string{sha2}}))
	got := ts.record(wang.access, "housing_cases", "hcE")
	if got.Evidence == nil || got.Evidence.Status != server.EvidenceIncomplete || !slices.Equal(got.Evidence.Missing, []string{sha2}) {
		t.Errorf("after the citation changed: %+v", got.Evidence)
	}
	var old []string
	for _, op := range got.History {
		if op.ID == "op-hc1" {
			_ = json.Unmarshal(op.Set["photo_sha256s"], &old)
		}
	}
	if !slices.Equal(old, []string{sha}) {
		t.Errorf("history lost the old citation: %+v", got.History)
	}
	ts.upload(wang, second, "housing_cases", "hcE", areaV1)
	if ev := ts.record(wang.access, "housing_cases", "hcE").Evidence; ev == nil || ev.Status != server.EvidenceComplete {
		t.Errorf("after the new photo arrived: %+v", ev)
	}
	if got := ts.getBlob(wang.access, sha); !bytes.Equal(got, first) {
		t.Error("the first blob changed")
	}
}

// getBlob fetches a blob's original bytes and requires 200.
func (ts *testServer) getBlob(token, sha string) []byte {
	ts.t.Helper()
	req, err := http.NewRequest("GET", ts.url+"/v1/blobs/"+sha+"?size=original", nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		ts.t.Fatalf("get blob %s: %d %v", sha, resp.StatusCode, err)
	}
	return b
}

// findingsAnswer is GET /v1/findings.
type findingsAnswer struct {
	Summary  string `json:"summary"`
	Findings []struct {
		Kind   string `json:"kind"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Photos []struct {
			Record string `json:"record"`
			SHA256 string `json:"sha256"`
		} `json:"photos"`
		HouseholdIDs []string `json:"household_ids"`
		CaseID       string   `json:"case_id"`
		HashBits     *int     `json:"hash_bits"`
		Metres       *float64 `json:"metres"`
	} `json:"findings"`
}

// TestPhotoFindings: a resized, recompressed copy of one household's
// photo cited by another household is found; photos of two different
// houses are not; a case's after photo taken before its before photo, far
// from it, is found twice. Roles and scopes are checked.
func TestPhotoFindings(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	wang := ts.as("wang")
	original := housePhoto(t, 1200, 900, 31)
	copied := resizedCopy(t, original, 800, 70)
	other := housePhoto(t, 1200, 900, 32)
	before, after := housePhoto(t, 400, 300, 33), housePhoto(t, 400, 300, 34)
	here := map[string]any{"lat": 31.7, "lon": 117.1}
	far := map[string]any{"lat": 31.7045, "lon": 117.1} // 500 m north
	photo := func(id, area, household, caseID, stage, at string, gps map[string]any, data []byte) {
		set := map[string]any{"blob_sha256": sha256Hex(data), "stage": stage, "captured_at": at, "gps": gps}
		if household != "" {
			set["household_id"] = household
		}
		if caseID != "" {
			set["case_id"] = caseID
		}
		ts.mustAck(wang, ts.op(wang, "op-"+id, "photos", id, area, set))
		ts.upload(wang, data, "photos", id, area)
	}
	ts.mustAck(wang, ts.op(wang, "op-hcF", "housing_cases", "hcF", areaV1, map[string]any{"household_id": "hV1b", "grade": "D"}))
	photo("p1", areaV1, "hV1a", "", "after", "2026-02-10T10:00:00+08:00", here, original)
	photo("p2", areaV2, "hV2a", "", "after", "2026-02-11T10:00:00+08:00", here, copied)
	photo("p3", areaV1, "hV1b", "", "before", "2026-02-12T10:00:00+08:00", here, other)
	photo("p4", areaV1, "", "hcF", "before", "2026-02-20T10:00:00+08:00", here, before)
	photo("p5", areaV1, "", "hcF", "after", "2026-02-01T10:00:00+08:00", far, after)
	ts.waitProcessed(sha256Hex(original), sha256Hex(copied), sha256Hex(other), sha256Hex(before), sha256Hex(after))
	if d := bits.OnesCount64(ts.blobFacts(sha256Hex(original)).PHash ^ ts.blobFacts(sha256Hex(other)).PHash); d <= 6 {
		t.Fatalf("the two houses' hashes are only %d bits apart: the test photos are too alike", d)
	}

	var got findingsAnswer
	ts.mustJSON("GET", "/v1/findings?area=340199", ts.as("county").login, nil, 200, &got)
	var kinds []string
	for _, f := range got.Findings {
		kinds = append(kinds, f.Kind)
	}
	sort.Strings(kinds)
	want := []string{string(findings.AfterBeforeBefore), string(findings.BeforeAfterFarApart), string(findings.ReusedPhoto)}
	if !slices.Equal(kinds, want) {
		t.Fatalf("finding kinds %v, want %v:\n%+v", kinds, want, got.Findings)
	}
	for _, f := range got.Findings {
		var records []string
		for _, p := range f.Photos {
			records = append(records, p.Record)
		}
		switch findings.Kind(f.Kind) {
		case findings.ReusedPhoto:
			if !slices.Equal(records, []string{"photos/p1", "photos/p2"}) || !slices.Equal(f.HouseholdIDs, []string{"hV1a", "hV2a"}) ||
				f.HashBits == nil || *f.HashBits > 6 || f.Title != findings.ReusedPhoto.Title() {
				t.Errorf("reused photo finding %+v", f)
			}
		case findings.AfterBeforeBefore, findings.BeforeAfterFarApart:
			if !slices.Equal(records, []string{"photos/p4", "photos/p5"}) || f.CaseID != "hcF" || !slices.Equal(f.HouseholdIDs, []string{"hV1b"}) {
				t.Errorf("case finding %+v", f)
			}
			if f.Kind == string(findings.BeforeAfterFarApart) && (f.Metres == nil || *f.Metres < 450 || *f.Metres > 550) {
				t.Errorf("far apart by %v m, want about 500", f.Metres)
			}
		}
		if !strings.ContainsFunc(f.Title+f.Detail, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Errorf("finding %s has no Chinese title or detail", f.Kind)
		}
	}
	if !strings.Contains(got.Summary, findings.ReusedPhoto.Title()+" 1 条") {
		t.Errorf("summary %q", got.Summary)
	}
	// A township sees its own villages: the copy in 340199001002 still
	// pairs with the original in 340199001001.
	var township findingsAnswer
	ts.mustJSON("GET", "/v1/findings?area=340199001", ts.as("township").login, nil, 200, &township)
	if len(township.Findings) != 3 {
		t.Errorf("township findings %+v", township.Findings)
	}
	// Within one village the copy is out of view.
	var village findingsAnswer
	ts.mustJSON("GET", "/v1/findings?area="+areaV1, ts.as("township").login, nil, 200, &village)
	if len(village.Findings) != 2 {
		t.Errorf("village findings %+v", village.Findings)
	}

	tests := []struct {
		name, user, query string
		status            int
		code              string
	}{
		{"officers supervise nobody", "wang", "area=340199001", 403, "EFORBIDDEN"},
		{"township asks for the county", "township", "area=340199", 403, "EFORBIDDEN"},
		{"another county", "county", "area=340188", 403, "EFORBIDDEN"},
		{"no area", "county", "", 400, "EINVALID"},
		{"letters", "county", "area=34x", 400, "EINVALID"},
	}
	for _, tc := range tests {
		r := ts.do("GET", "/v1/findings?"+tc.query, ts.as(tc.user).login, nil)
		if r.status != tc.status || r.errorCode() != tc.code {
			t.Errorf("%s: %s, want %d %s", tc.name, r, tc.status, tc.code)
		}
	}
}

// TestFindingsTolerancesAreConfigurable: a spread limit of 1 km lets the
// 500 m before/after pair pass.
func TestFindingsTolerancesAreConfigurable(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{Findings: findings.Policy{CaseSpreadMetres: 1000}})
	wang := ts.as("wang")
	ts.mustAck(wang, ts.op(wang, "op-hc", "housing_cases", "hcT", areaV1, map[string]any{"household_id": "hV1b", "grade": "D"}),
		ts.op(wang, "op-b", "photos", "pb", areaV1, map[string]any{"blob_sha256": strings.Repeat("a", 64), "case_id": "hcT", "stage": "before",
			"captured_at": "2026-02-01T10:00:00+08:00", "gps": map[string]any{"lat": 31.7, "lon": 117.1}}),
		ts.op(wang, "op-a", "photos", "pa", areaV1, map[string]any{"blob_sha256": strings.Repeat("b", 64), "case_id": "hcT", "stage": "after",
			"captured_at": "2026-02-20T10:00:00+08:00", "gps": map[string]any{"lat": 31.7045, "lon": 117.1}}))
	var got findingsAnswer
	ts.mustJSON("GET", "/v1/findings?area=340199001", ts.as("township").login, nil, 200, &got)
	if len(got.Findings) != 0 || got.Summary != "未发现可疑照片" {
		t.Errorf("findings %+v (%s), want none", got.Findings, got.Summary)
	}
}

// signaturesAnswer is GET /v1/signatures.
type signaturesAnswer struct {
	Record     string `json:"record"`
	Signatures []struct {
		ID          string `json:"id"`
		Status      string `json:"signature_status"`
		StatusTitle string `json:"signature_status_title"`
	} `json:"signatures"`
}

func (a signaturesAnswer) statuses() map[string]string {
	out := map[string]string{}
	for _, s := range a.Signatures {
		out[s.ID] = s.Status
	}
	return out
}

// TestSignatureStatus: a household head's signature over a household is
// valid, turns stale when the household is edited, and one made with a
// key other than the named device's is invalid throughout.
func TestSignatureStatus(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	tablet, priv := ts.enrollWithKey("wang")
	hh := ts.record(tablet.access, "households", "hV1a").Record.Fields
	content := signature.Content(hh, ts.reg.Policy("households").Annotations)
	ts.mustAck(tablet, ts.op(tablet, "op-s1", "signatures", "s1", areaV1, signFields(t, priv, tablet.device, "households", "hV1a", content, "household_head", "identification")))
	_, forgerKey := ts.enrollWithKey("li")
	forged := signFields(t, forgerKey, tablet.device, "households", "hV1a", content, "household_head", "identification")
	ts.mustAck(ts.as("li"), ts.op(ts.as("li"), "op-s2", "signatures", "s2", areaV1, forged))

	check := func(when string, want map[string]string) {
		t.Helper()
		for id, st := range want {
			if got := ts.record(tablet.access, "signatures", id).SignatureStatus; got != st {
				t.Errorf("%s: %s is %q, want %q", when, id, got, st)
			}
		}
		var list signaturesAnswer
		ts.mustJSON("GET", "/v1/signatures?record=households/hV1a", ts.as("township").login, nil, 200, &list)
		if got := list.statuses(); len(got) != len(want) || got["s1"] != want["s1"] || got["s2"] != want["s2"] {
			t.Errorf("%s: list %+v, want %v", when, list.Signatures, want)
		}
		for _, s := range list.Signatures {
			if s.StatusTitle != server.SignatureStatusTitle(s.Status) {
				t.Errorf("%s: title %q for %s", when, s.StatusTitle, s.Status)
			}
		}
	}
	check("as signed", map[string]string{"s1": signature.StatusValid, "s2": signature.StatusInvalid})
	ts.mustAck(tablet, ts.op(tablet, "op-edit", "households", "hV1a", areaV1, map[string]any{"phone": "13900000002"}))
	check("after an edit", map[string]string{"s1": signature.StatusStale, "s2": signature.StatusInvalid})

	var none signaturesAnswer
	ts.mustJSON("GET", "/v1/signatures?record=households/hV1b", ts.as("township").login, nil, 200, &none)
	if len(none.Signatures) != 0 {
		t.Errorf("hV1b signatures %+v", none.Signatures)
	}
	ts.expectError(ts.do("GET", "/v1/signatures?record=households/hV3a", tablet.access, nil), 404, "ENOTFOUND")
	ts.expectError(ts.do("GET", "/v1/signatures?record=hV1a", tablet.access, nil), 400, "EINVALID")
	ts.expectError(ts.do("GET", "/v1/signatures?record=nope/hV1a", tablet.access, nil), 400, "EINVALID")
}

// TestEXIFFindingsAndUnusableFiles: the time and place a photo's EXIF
// records are checked against the photos record citing it, through the
// real pipeline; a matching photo raises nothing. A cited file that
// arrived but is no image completes the manifest and is listed unusable.
func TestEXIFFindingsAndUnusableFiles(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	wang := ts.as("wang")
	lat := [3][2]uint32{{31, 1}, {42, 1}, {0, 1}}  // 31.7
	lon := [3][2]uint32{{117, 1}, {6, 1}, {0, 1}}  // 117.1
	away := [3][2]uint32{{31, 1}, {45, 1}, {0, 1}} // 31.75: 5.6 km north
	honest := photobench.WithEXIF(housePhoto(t, 320, 240, 41), 1, "2026:02:10 10:03:00", lat, lon)
	doubtful := photobench.WithEXIF(housePhoto(t, 320, 240, 42), 1, "2026:02:12 15:00:00", away, lon)
	for id, data := range map[string][]byte{"pe1": honest, "pe2": doubtful} {
		ts.mustAck(wang, ts.op(wang, "op-"+id, "photos", id, areaV1, map[string]any{"blob_sha256": sha256Hex(data), "household_id": "hV1a",
			"stage": "during", "captured_at": "2026-02-10T10:00:00+08:00", "gps": map[string]any{"lat": 31.7, "lon": 117.1}}))
		ts.upload(wang, data, "photos", id, areaV1)
	}
	ts.waitProcessed(sha256Hex(honest), sha256Hex(doubtful))
	var got findingsAnswer
	ts.mustJSON("GET", "/v1/findings?area="+areaV1, ts.as("township").login, nil, 200, &got)
	kinds := map[string][]string{}
	for _, f := range got.Findings {
		for _, p := range f.Photos {
			kinds[p.Record] = append(kinds[p.Record], f.Kind)
		}
	}
	if len(kinds) != 1 || !slices.Equal(kinds["photos/pe2"], []string{string(findings.EXIFGPSMismatch), string(findings.EXIFTimeMismatch)}) {
		t.Errorf("findings by photo %v, want pe2's EXIF time and place only:\n%+v", kinds, got.Findings)
	}

	notImage := []byte("this is not a photo, only words pretending to be one")
	set := visitFields("hV1a", "wang")
	set["photo_sha256s"] = []string{sha256Hex(notImage)}
	ts.mustAck(wang, ts.op(wang, "op-visU", "visits", "visU", areaV1, set))
	ts.upload(wang, notImage, "visits", "visU", areaV1)
	ts.waitProcessed(sha256Hex(notImage))
	ev := ts.record(wang.access, "visits", "visU").Evidence
	if ev == nil || ev.Status != server.EvidenceComplete || len(ev.Unusable) != 1 || ev.Unusable[0].SHA256 != sha256Hex(notImage) {
		t.Errorf("manifest of a visit citing a non-image: %+v", ev)
	}
}
