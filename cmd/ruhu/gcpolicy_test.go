package main

import "testing"

// TestGCPolicy: servers and benches collect at GOGC=300 under a 384 MiB
// soft limit unless the environment says otherwise; other commands keep
// Go's defaults.
func TestGCPolicy(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name                  string
		args                  []string
		env                   map[string]string
		wantPercent, wantLimt bool
	}{
		{"serve", []string{"serve"}, nil, true, true},
		{"bench", []string{"bench", "sync"}, nil, true, true},
		{"demo", []string{"demo"}, nil, true, true},
		{"tablet CLI", []string{"tablet", "sync"}, nil, false, false},
		{"no command", nil, nil, false, false},
		{"GOGC set", []string{"serve"}, map[string]string{"GOGC": "100"}, false, true},
		{"GOMEMLIMIT set", []string{"serve"}, map[string]string{"GOMEMLIMIT": "1GiB"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			percent, limit, setPercent, setLimit := gcPolicy(tc.args, env(tc.env))
			if setPercent != tc.wantPercent || setLimit != tc.wantLimt {
				t.Fatalf("set percent %v, set limit %v; want %v, %v", setPercent, setLimit, tc.wantPercent, tc.wantLimt)
			}
			if setPercent && percent != serverGCPercent || setLimit && limit != serverMemoryLimit {
				t.Fatalf("percent %d, limit %d", percent, limit)
			}
		})
	}
}
