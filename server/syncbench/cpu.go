package syncbench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// errNoProcStat is returned by procCPU where /proc has no stat files
// (not Linux): the CPU figures are then left out.
var errNoProcStat = errors.New("no /proc/PID/stat")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU is the user plus system CPU time the process pid (0: this one)
// has used, all its threads together, and its children it has waited for,
// from /proc/PID/stat. CPU seconds
// hold still on a machine others load, where wall-clock figures wander.
func procCPU(pid int) (time.Duration, error) {
	name := "self"
	if pid != 0 {
		name = strconv.Itoa(pid)
	}
	raw, err := os.ReadFile("/proc/" + name + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errNoProcStat, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after it start with the state (field 3).
	i := strings.LastIndexByte(string(raw), ')')
	fields := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(fields) < 15 {
		return 0, fmt.Errorf("%w: %s is short", errNoProcStat, name)
	}
	var ticks int64
	for _, f := range fields[11:15] { // utime, stime, cutime, cstime: fields 14 to 17
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", errNoProcStat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
