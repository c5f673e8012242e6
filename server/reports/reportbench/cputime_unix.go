//go:build unix

package reportbench

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the process has used.
// On a machine shared with other work, wall time overstates the report's
// cost; CPU time does not.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
