package syncbench

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestProcCPUCountsWork: this process's CPU time grows by about the CPU a
// busy loop burns, and a pid that does not exist is an error.
func TestProcCPUCountsWork(t *testing.T) {
	before, err := procCPU(0)
	if errors.Is(err, errNoProcStat) {
		t.Skip("no /proc here: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	spin := time.Now()
	x := 0
	for time.Since(spin) < 300*time.Millisecond {
		x++
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU time went from %v to %v over a busy loop (%d turns)", before, after, x)
	}
	if _, err := procCPU(1 << 30); !errors.Is(err, errNoProcStat) {
		t.Fatalf("procCPU of a missing pid: %v", err)
	}
}
