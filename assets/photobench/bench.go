package photobench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
)

// Runs is how many times Measure processes the photo; the median is
// reported so one GC pause or a neighbour's burst does not decide it.
const Runs = 7

// Result holds the figures of one Measure run.
type Result struct {
	// WallMS is the median wall time of one Process call.
	WallMS float64
	// CPUMS is the median CPU time (user + system, all threads) the
	// process spent per call. On a machine shared with other work, wall
	// time includes waiting for a core; CPU time does not, so it shows
	// what the code costs when the cores are free.
	CPUMS float64
	// PeakRSSMB is VmHWM during processing, in MiB; 0 where /proc is absent.
	PeakRSSMB float64
	// Bytes is the size of the generated JPEG.
	Bytes int
}

// Measure generates a 4000×3000 JPEG (quality 90, with noise and shapes
// so the decoder does real work), processes it Runs times into preview,
// thumbnail and perceptual hash with default options, and reports the
// median wall and CPU time per call, the process's peak resident set
// (VmHWM) during processing and the photo's size.
//
// The generator's own memory is released and the kernel's high-water mark
// reset (writing 5 to /proc/self/clear_refs) before processing, so the peak
// is that of processing. If the reset is not permitted, the figure includes
// generation and is an upper bound. Linux only for the RSS figure;
// elsewhere PeakRSSMB is 0.
func Measure(ctx context.Context) (Result, error) {
	data, err := JPEG(4000, 3000, 12, 90)
	if err != nil {
		return Result{}, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)

	walls := make([]float64, 0, Runs)
	cpus := make([]float64, 0, Runs)
	for range Runs {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("bench photo: %w", err)
		}
		start, cpuStart := time.Now(), cpuTime()
		if _, err := photo.Process(data, photo.Options{}); err != nil {
			return Result{}, fmt.Errorf("bench photo: %w", err)
		}
		walls = append(walls, ms(time.Since(start)))
		cpus = append(cpus, ms(cpuTime()-cpuStart))
	}
	peak, err := PeakRSSMB()
	if err != nil {
		peak = 0
	}
	return Result{WallMS: median(walls), CPUMS: median(cpus), PeakRSSMB: peak, Bytes: len(data)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// cpuTime is the CPU time the whole process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSSMB reads the process's peak resident set size (VmHWM) from
// /proc/self/status, in MiB.
func PeakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("peak rss: parse %q: %w", rest, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("peak rss: no VmHWM in /proc/self/status")
}
