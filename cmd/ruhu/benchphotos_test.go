package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// TestBenchPhotosQuick runs `ruhu bench photos --quick` and checks that
// it prints one JSON object with every figure measured.
func TestBenchPhotosQuick(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "photos", "--quick"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("bench photos: %v\n%s", err, errOut.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"photo_ms", "photo_cpu_ms", "photo_bytes", "upload_throughput_kBps"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive figure", k, got[k])
		}
	}
	if v, ok := got["upload_resent_ratio"].(float64); !ok || v < 0 {
		t.Errorf("upload_resent_ratio = %v", got["upload_resent_ratio"])
	}
	if _, ok := got["photo_peak_rss_mb"].(float64); !ok {
		t.Errorf("photo_peak_rss_mb missing")
	}
}
