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
// has used, all its threads together, from /proc/PID/stat. CPU seconds
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
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("%w: %s is short", errNoProcStat, name)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: %v", errNoProcStat, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
