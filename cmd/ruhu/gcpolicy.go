package main

import "runtime/debug"

// Server processes collect garbage less often than Go's default: a push
// allocates a few times its size in short-lived decoding and validation
// garbage, and at GOGC=100 the collector took a quarter to a third of the
// push CPU. With GOGC=300 and a soft memory limit of 384 MiB, `ruhu bench
// sync` served the 100-tablet crowd at 19,700–22,600 ops/s against
// 17,400–17,700 (three alternating runs each on the idle 2-core machine),
// and the limit makes the collector work harder, not the heap grow, when
// a county report's data is live (report peak RSS stays under 500 MB).
// GOGC and GOMEMLIMIT in the environment win, as Go documents.
const (
	serverGCPercent   = 300
	serverMemoryLimit = 384 << 20
)

// gcPolicy returns the collector settings for a command: apply is false
// for commands that are not long-running servers (the tablet CLI, admin
// commands) and for whatever the environment sets itself.
func gcPolicy(args []string, getenv func(string) string) (percent int, limit int64, setPercent, setLimit bool) {
	if len(args) == 0 {
		return 0, 0, false, false
	}
	switch args[0] {
	case "serve", "demo", "bench":
	default:
		return 0, 0, false, false
	}
	return serverGCPercent, serverMemoryLimit, getenv("GOGC") == "", getenv("GOMEMLIMIT") == ""
}

// applyGCPolicy sets the process's collector for the command in args.
func applyGCPolicy(args []string, getenv func(string) string) {
	percent, limit, setPercent, setLimit := gcPolicy(args, getenv)
	if setPercent {
		debug.SetGCPercent(percent)
	}
	if setLimit {
		debug.SetMemoryLimit(limit)
	}
}
