package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/ruhu-dev/ruhu/assets/photobench"
	"github.com/ruhu-dev/ruhu/server/uploads/uploadbench"
)

// photoBenchResult is what `ruhu bench photos` prints: the photo
// pipeline against its bar (12 MP JPEG → preview + thumbnail + perceptual
// hash ≤ 400 ms, peak RSS ≤ 150 MB) and resumable uploads over a cut
// 2G link (a cut costs at most one chunk).
type photoBenchResult struct {
	PhotoMS        float64 `json:"photo_ms"`
	PhotoCPUMS     float64 `json:"photo_cpu_ms"`
	PhotoPeakRSSMB float64 `json:"photo_peak_rss_mb"`
	PhotoBytes     int     `json:"photo_bytes"`
	// PhotoWithinBar tells whether photo_ms and photo_peak_rss_mb meet the
	// bars photo_bar_ms and photo_bar_peak_rss_mb.
	PhotoBarMS        float64 `json:"photo_bar_ms"`
	PhotoBarPeakRSSMB float64 `json:"photo_bar_peak_rss_mb"`
	PhotoWithinBar    bool    `json:"photo_within_bar"`
	// UploadResentRatio is what the link carried beyond the photos, per
	// photo byte (resent bytes and HTTP headers).
	UploadResentRatio    float64            `json:"upload_resent_ratio"`
	UploadThroughputKBps float64            `json:"upload_throughput_kBps"`
	UploadLink           string             `json:"upload_link"`
	Upload               uploadbench.Result `json:"upload"`
}

// runBenchPhotos measures photo processing first (its peak RSS must not
// include the upload server's), then the uploads, and prints one JSON
// object. --quick uses a fast link and one photo: a smoke run, not the
// figures.
func runBenchPhotos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench photos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "fast link and one photo (a smoke run, not the figures)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := photobench.Measure(ctx)
	if err != nil {
		return fmt.Errorf("photo processing: %w", err)
	}
	o := uploadbench.Options{}
	bps := 50_000
	if *quick {
		bps = 4_000_000
		o = uploadbench.Options{BitsPerSecond: bps, Photos: 1}
	}
	u, err := uploadbench.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("uploads: %w", err)
	}
	const barMS, barRSS = 400, 150
	res := photoBenchResult{PhotoMS: p.WallMS, PhotoCPUMS: p.CPUMS, PhotoPeakRSSMB: p.PeakRSSMB, PhotoBytes: p.Bytes,
		PhotoBarMS: barMS, PhotoBarPeakRSSMB: barRSS, PhotoWithinBar: p.WallMS <= barMS && p.PeakRSSMB <= barRSS,
		UploadResentRatio: u.ResentRatio, UploadThroughputKBps: u.ThroughputKBps, Upload: u,
		UploadLink: fmt.Sprintf("%d bit/s each way, cut every 16–64 KiB", bps)}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
