package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photobench"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/uploads/faultproxy"
)

// dayOptions shape `ruhu bench day`. The zero value of each field means
// the figure's setting, named beside it.
type dayOptions struct {
	// Dir holds the server's and the tablet's files; "" means a temporary
	// folder, removed afterwards.
	Dir string
	// Visits, Photos and Signatures are the day's work. Zero: 10, 20, 2.
	Visits, Photos, Signatures int
	// PhotoWidth and PhotoHeight are the camera's originals. Zero: 4000 ×
	// 3000 (12 MP).
	PhotoWidth, PhotoHeight int
	// BitsPerSecond is the link each way. Zero: 50,000 (2G).
	BitsPerSecond int
	// CutMin and CutMax bound the client-to-server bytes a connection
	// carries before the link cuts it. Zero: 16 KiB and 64 KiB.
	CutMin, CutMax int64
	// Speedup runs the link N times faster and divides every timeout and
	// backoff of the client by N, then multiplies the measured times by N:
	// the same day, compressed in time. Zero or one: real time.
	Speedup int
	// Seed picks the photos' scenes and the cut points.
	Seed uint64
}

func (o dayOptions) withDefaults() dayOptions {
	if o.Visits <= 0 {
		o.Visits = 10
	}
	if o.Photos <= 0 {
		o.Photos = 20
	}
	if o.Signatures < 0 {
		o.Signatures = 0
	} else if o.Signatures == 0 {
		o.Signatures = 2
	}
	o.Signatures = min(o.Signatures, o.Visits)
	if o.PhotoWidth <= 0 || o.PhotoHeight <= 0 {
		o.PhotoWidth, o.PhotoHeight = 4000, 3000
	}
	if o.BitsPerSecond <= 0 {
		o.BitsPerSecond = 50_000
	}
	if o.CutMax <= 0 {
		o.CutMin, o.CutMax = 16<<10, 64<<10
	}
	if o.Speedup <= 0 {
		o.Speedup = 1
	}
	return o
}

// dayResult is what `ruhu bench day` prints. Times are link times: with
// --speedup N they are the measured wall times × N.
type dayResult struct {
	// DayRecordsS is from the moment the tablet is back in coverage until
	// every visit, photo and signature record is acknowledged by the
	// server (and read back from it).
	DayRecordsS float64 `json:"day_records_s"`
	// DayEvidenceMin is from the same moment until every evidence copy
	// and signature image is on the server, each verified byte for byte
	// against its sha256 (signatures first, then evidence copies;
	// originals wait for an unmetered network and are not sent).
	DayEvidenceMin float64 `json:"day_evidence_min"`
	// DayBytesRatio is BytesSent / BytesNeeded.
	DayBytesRatio float64 `json:"day_bytes_ratio"`
	// BytesSent is every client-to-server byte that crossed the link
	// during the day's sync and uploads: HTTP headers, resent chunks, and
	// bytes cut in flight included.
	BytesSent int64 `json:"bytes_sent"`
	// BytesNeeded is what the day's data takes at the least: the gzip
	// bodies of the sync requests the server answered (PushWireBytes: a
	// push whose answer the link cut off is counted once, by the resend
	// that was answered) plus the evidence files, each counted once. No
	// HTTP headers: they are cost, counted in BytesSent only.
	BytesNeeded   int64 `json:"bytes_needed"`
	PushWireBytes int64 `json:"push_wire_bytes"`
	EvidenceBytes int64 `json:"evidence_bytes"`
	// OriginalBytes is the size of the originals the tablet keeps for an
	// unmetered network (not sent, not needed over 2G).
	OriginalBytes int64 `json:"original_bytes"`
	Records       int   `json:"records"`
	EvidenceFiles int   `json:"evidence_files"`
	Cuts          int   `json:"cuts"`
	// UploadChunkBytes is the file bytes the client's HTTP stack took for
	// the wire (client.UploadReport.BytesSent), resends included, and
	// also what still sat in the client's socket buffers when the link
	// cut and so never crossed it: more than BytesSent can show;
	// ChunkFailures the chunks that failed; MinChunk and MaxChunk the
	// smallest and largest adaptive chunk sizes used. They tell where
	// bytes beyond the files went: resent chunks, or request headers.
	UploadChunkBytes int64 `json:"upload_chunk_bytes"`
	ChunkFailures    int   `json:"chunk_failures"`
	MinChunk         int   `json:"min_chunk"`
	MaxChunk         int   `json:"max_chunk"`
	SyncRuns         int   `json:"sync_runs"`
	UploadRuns       int   `json:"upload_runs"`
	// Link describes the simulated link; Speedup the time compression.
	Link    string `json:"link"`
	Speedup int    `json:"speedup"`
	// Targets are the bars of DESIGN.md; WithinTargets whether all are met.
	TargetRecordsS   float64 `json:"target_records_s"`
	TargetEvidenceM  float64 `json:"target_evidence_min"`
	TargetBytesRatio float64 `json:"target_bytes_ratio"`
	WithinTargets    bool    `json:"within_targets"`
}

// runBenchDay parses the flags of `ruhu bench day`, runs the day and
// prints one JSON object.
func runBenchDay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench day", flag.ContinueOnError)
	fs.SetOutput(stderr)
	speedup := fs.Int("speedup", 1, "run the link N× faster and scale the client's timeouts down and the reported times up by N (1: real time, about ten minutes)")
	seed := fs.Uint64("seed", 1, "seed of the photo scenes and the cut points")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *speedup < 1 {
		return fmt.Errorf("bench day: --speedup must be at least 1, not %d", *speedup)
	}
	res, err := benchDay(ctx, dayOptions{Speedup: *speedup, Seed: *seed}, stderr)
	if err != nil {
		return fmt.Errorf("bench day: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// benchDay plays an officer's day: the tablet logs in and takes its
// households over an uncut link (the morning at the township office),
// then, offline, records the visits, takes the photos from camera-size
// originals (the client makes the evidence copies with
// photo.CompressForEvidence) and captures the signatures; then, back in
// 2G coverage, it syncs the records and uploads the evidence over the
// cutting link, retrying as an app would until everything is on the
// server. Progress lines go to logw.
func benchDay(ctx context.Context, o dayOptions, logw io.Writer) (dayResult, error) {
	o = o.withDefaults()
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "ruhu-benchday-")
		if err != nil {
			return dayResult{}, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	reg, err := schemas.New()
	if err != nil {
		return dayResult{}, err
	}

	srvCtx, stopServer := context.WithCancel(ctx)
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(srvCtx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(o.Dir, "server"), "--seed-demo"},
			func(string) string { return "" }, io.Discard, io.Discard, ready)
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-errc:
		stopServer()
		return dayResult{}, fmt.Errorf("server: %w", err)
	}
	defer func() {
		stopServer()
		<-errc
	}()

	n := time.Duration(o.Speedup)
	px, err := faultproxy.Start(faultproxy.Options{Target: strings.TrimPrefix(base, "http://"),
		BytesPerSecond: o.BitsPerSecond / 8 * o.Speedup, CutMin: o.CutMin, CutMax: o.CutMax, Seed: o.Seed})
	if err != nil {
		return dayResult{}, err
	}
	defer px.Close()
	px.SetCutting(false)

	if err := os.MkdirAll(filepath.Join(o.Dir, "tablet"), 0o700); err != nil {
		return dayResult{}, err
	}
	hc := &http.Client{Timeout: 2 * time.Minute / n}
	c, err := client.Open(filepath.Join(o.Dir, "tablet", "tablet.db"), client.Options{
		Validator: reg, Policy: mergePolicy(reg),
		Metered:   func() bool { return true },
		RetryBase: 500 * time.Millisecond / n, RetryMax: 30 * time.Second / n,
		FastChunk: 2 * time.Second / n, ChunkTimeout: 60 * time.Second / n,
		HTTPClient: hc,
	})
	if err != nil {
		return dayResult{}, err
	}
	defer c.Close()
	if err := c.Login(ctx, px.URL(), "wang", demoPassword); err != nil {
		return dayResult{}, fmt.Errorf("login: %w", err)
	}
	if err := c.Enroll(ctx, "走访平板"); err != nil {
		return dayResult{}, fmt.Errorf("enroll: %w", err)
	}
	if _, err := c.Sync(ctx, nil); err != nil {
		return dayResult{}, fmt.Errorf("morning sync: %w", err)
	}
	mine, err := c.MyHouseholds()
	if err != nil {
		return dayResult{}, err
	}
	if len(mine) == 0 {
		return dayResult{}, errors.New("the officer has no households")
	}

	fmt.Fprintf(logw, "bench day: recording %d visits, %d photos of %d×%d, %d signatures offline\n",
		o.Visits, o.Photos, o.PhotoWidth, o.PhotoHeight, o.Signatures)
	records, originals, err := dayCapture(ctx, c, o, mine)
	if err != nil {
		return dayResult{}, err
	}
	queue, err := c.UploadQueue()
	if err != nil {
		return dayResult{}, err
	}
	res := dayResult{Records: len(records), OriginalBytes: originals, Speedup: o.Speedup,
		Link:           fmt.Sprintf("%d bit/s each way, cut every %d–%d KiB", o.BitsPerSecond, o.CutMin>>10, o.CutMax>>10),
		TargetRecordsS: 30, TargetEvidenceM: 12, TargetBytesRatio: 1.2}
	var files []client.UploadItem
	seen := map[string]bool{}
	for _, it := range queue {
		if it.Class == client.UploadOriginal || seen[it.SHA256] {
			continue // a file cited twice is needed, and sent, once
		}
		seen[it.SHA256] = true
		files = append(files, it)
		res.EvidenceBytes += it.Size
	}
	res.EvidenceFiles = len(files)

	county, err := demoToken(ctx, base, "county")
	if err != nil {
		return res, err
	}
	scale := float64(o.Speedup)
	// The morning's keep-alive connection was opened uncut: drop it, so
	// the day's connections all cross the cutting link.
	px.SetCutting(true)
	hc.CloseIdleConnections()
	sentBefore, cutsBefore := px.Upstream(), px.Cuts()
	fmt.Fprintf(logw, "bench day: back in coverage: syncing %d records, then %d files (%d bytes)\n", len(records), len(files), res.EvidenceBytes)
	start := time.Now()
	for {
		res.SyncRuns++
		rep, err := c.Sync(ctx, nil)
		res.PushWireBytes += rep.WireOut
		if err == nil && rep.Rejected > 0 {
			return res, fmt.Errorf("the server refused %d of the day's records", rep.Rejected)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || res.SyncRuns >= 20 {
			return res, fmt.Errorf("sync run %d: %w", res.SyncRuns, err)
		}
	}
	for _, r := range records {
		if err := dayRecordOnServer(ctx, base, county, r); err != nil {
			return res, err
		}
	}
	res.DayRecordsS = time.Since(start).Seconds() * scale
	fmt.Fprintf(logw, "bench day: records on the server after %.1f s (link time)\n", res.DayRecordsS)
	for {
		res.UploadRuns++
		rep, err := c.Upload(ctx, nil)
		res.UploadChunkBytes += rep.BytesSent
		res.ChunkFailures += rep.ChunkFailures
		if res.MinChunk == 0 || rep.MinChunk < res.MinChunk {
			res.MinChunk = rep.MinChunk
		}
		res.MaxChunk = max(res.MaxChunk, rep.MaxChunk)
		if err != nil && (ctx.Err() != nil || res.UploadRuns >= 50) {
			return res, fmt.Errorf("upload run %d: %w", res.UploadRuns, err)
		}
		if err == nil && rep.Failed == 0 {
			break
		}
		if res.UploadRuns >= 50 {
			return res, fmt.Errorf("after %d upload runs %d files still fail", res.UploadRuns, rep.Failed)
		}
	}
	for _, it := range files {
		if err := dayBlobOnServer(ctx, base, county, it.SHA256); err != nil {
			return res, fmt.Errorf("%s %s: %w", it.Class, it.SHA256, err)
		}
	}
	res.DayEvidenceMin = time.Since(start).Minutes() * scale
	res.BytesSent, res.Cuts = px.Upstream()-sentBefore, px.Cuts()-cutsBefore
	res.BytesNeeded = res.PushWireBytes + res.EvidenceBytes
	res.DayBytesRatio = float64(res.BytesSent) / float64(res.BytesNeeded)
	res.WithinTargets = res.DayRecordsS <= res.TargetRecordsS && res.DayEvidenceMin <= res.TargetEvidenceM && res.DayBytesRatio <= res.TargetBytesRatio
	return res, nil
}

// dayRecord names a record the day wrote.
type dayRecord struct{ collection, id string }

// dayCapture records the day's work offline: visits spread over the
// officer's households, photos spread over the visits (each a fresh scene
// at camera size), and signatures of household heads on the first
// visits. It returns the records written and the originals' bytes.
func dayCapture(ctx context.Context, c *client.Client, o dayOptions, households []*client.RecordView) ([]dayRecord, int64, error) {
	var out []dayRecord
	var originals int64
	now := time.Now().UTC()
	checklist := map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"}
	type visit struct{ id, household, area string }
	visits := make([]visit, o.Visits)
	for i := range o.Visits {
		hh := households[i%len(households)]
		id := c.NewID()
		fields := map[string]json.RawMessage{}
		for k, v := range map[string]any{"household_id": hh.ID, "officer": "wang", "checklist": checklist,
			"visited_at": now.Add(time.Duration(i-o.Visits) * 40 * time.Minute).Format(time.RFC3339),
			"notes":      fmt.Sprintf("第%d次走访：家中情况稳定，已核对收入和用水。", i+1)} {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, 0, err
			}
			fields[k] = b
		}
		if _, err := c.Save(ctx, collection.Visits, id, hh.Area, fields); err != nil {
			return nil, 0, fmt.Errorf("visit %d: %w", i, err)
		}
		visits[i] = visit{id: id, household: hh.ID, area: hh.Area}
		out = append(out, dayRecord{collection.Visits, id})
	}
	for i := range o.Photos {
		v := visits[i*o.Visits/o.Photos]
		orig, err := photobench.JPEG(o.PhotoWidth, o.PhotoHeight, o.Seed*1000+uint64(i), 92)
		if err != nil {
			return nil, 0, err
		}
		originals += int64(len(orig))
		id, err := c.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: v.household, Area: v.area,
			Stage: "during", Original: orig, CapturedAt: now.Add(-time.Duration(o.Photos-i) * 20 * time.Minute),
			GPS: &client.GPS{Lat: 31.7051 + float64(i)*0.0001, Lon: 117.1402, AccuracyM: 6}})
		if err != nil {
			return nil, 0, fmt.Errorf("photo %d: %w", i, err)
		}
		out = append(out, dayRecord{client.CollectionPhotos, id})
	}
	for i := range o.Signatures {
		strokes := []client.Stroke{
			{{X: 10, Y: 40, T: 0}, {X: 30, Y: 10, T: 16}, {X: 50, Y: 42, T: 33}, {X: 62, Y: 18, T: 50}},
			{{X: 70, Y: 20, T: 300}, {X: 120 + float64(i*7), Y: 22, T: 340}, {X: 140, Y: 45, T: 380}},
		}
		id, err := c.CaptureSignature(ctx, client.SignatureCapture{SignerName: "张建国", SignerRole: "household_head",
			SignedCollection: collection.Visits, SignedRecordID: visits[i].id, Purpose: "visit", Strokes: strokes})
		if err != nil {
			return nil, 0, fmt.Errorf("signature %d: %w", i, err)
		}
		out = append(out, dayRecord{client.CollectionSignatures, id})
	}
	return out, originals, nil
}

// demoToken logs a demo user in straight to the server (not over the
// simulated link): the bench's own eyes on the server.
func demoToken(ctx context.Context, base, user string) (string, error) {
	resp, err := (&client.HTTPTransport{BaseURL: base}).Login(ctx, user, demoPassword)
	if err != nil {
		return "", fmt.Errorf("login %s: %w", user, err)
	}
	return resp.AccessToken, nil
}

// dayRecordOnServer checks that the server holds the record.
func dayRecordOnServer(ctx context.Context, base, token string, r dayRecord) error {
	body, status, err := dayGet(ctx, base+"/v1/records/"+r.collection+"/"+r.id, token)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("record %s/%s: server answers %d: %.200s", r.collection, r.id, status, body)
	}
	return nil
}

// dayBlobOnServer checks that the server holds the file byte for byte.
func dayBlobOnServer(ctx context.Context, base, token, sha string) error {
	body, status, err := dayGet(ctx, base+"/v1/blobs/"+sha, token)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if status != http.StatusOK || hex.EncodeToString(sum[:]) != sha {
		return fmt.Errorf("server holds %d bytes (status %d), not the file", len(body), status)
	}
	return nil
}

func dayGet(ctx context.Context, url, token string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return body, resp.StatusCode, nil
}
