package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux platform Go supports.
const clockTicks = 100

// procCPU returns the user+system CPU seconds of process pid.
func procCPU(pid int) (float64, error) {
	user, sys, err := procCPUSplit(pid)
	return user + sys, err
}

// procCPUSplit returns the user and the system CPU seconds of process pid.
func procCPUSplit(pid int) (user, sys float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return float64(ut) / clockTicks, float64(st) / clockTicks, nil
}

// procRSS returns the resident set size of process pid in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// selfCPU returns the user+system CPU seconds of this process and of its
// children that ended (the publisher children of -publisher-process; a
// server child ends only after its run is measured).
func selfCPU() float64 {
	var total int64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return 0
		}
		total += ru.Utime.Nano() + ru.Stime.Nano()
	}
	return float64(total) / 1e9
}

func numCPU() int { return runtime.NumCPU() }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return fmt.Sprintf("%d x %s", runtime.NumCPU(), strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")))
		}
	}
	return runtime.GOARCH
}

// machineCPU returns the CPU seconds all processes of the machine spent
// busy (every /proc/stat "cpu" column but idle and iowait), so that a run
// can report how much CPU other processes took from it.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		busy += n
	}
	return float64(busy) / clockTicks
}

// goMem is the Go memory of a server, read from its net/http/pprof heap
// profile in text form (the runtime.MemStats it ends with), which both the
// ssot-ws bench server and Centrifugo (debug endpoints) serve.
type goMem struct {
	HeapInuse, HeapAlloc, StackInuse uint64
	Goroutines                       int
}

// fetchGoMem collects garbage in the server (gc=1) and reads its memory
// and goroutine count from /debug/pprof.
func fetchGoMem(base string) (goMem, error) {
	var m goMem
	b, err := httpGetBody(base + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return m, err
	}
	m, err = parseHeapProfileText(b)
	if err != nil {
		return m, err
	}
	g, err := httpGetBody(base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return m, err
	}
	line, _, _ := strings.Cut(string(g), "\n")
	if v, ok := strings.CutPrefix(line, "goroutine profile: total "); ok {
		m.Goroutines, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	return m, nil
}

// parseHeapProfileText reads HeapInuse, HeapAlloc and StackInuse from the
// "# Name = value" lines of a debug=1 heap profile.
func parseHeapProfileText(b []byte) (goMem, error) {
	var m goMem
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		first, _, _ := strings.Cut(val, " ")
		v, err := strconv.ParseUint(first, 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "HeapInuse":
			m.HeapInuse = v
		case "HeapAlloc":
			m.HeapAlloc = v
		case "Stack": // "# Stack = inuse / sys"
			m.StackInuse = v
		default:
			continue
		}
		found++
	}
	if found < 3 {
		return m, fmt.Errorf("heap profile: no HeapInuse, HeapAlloc and Stack lines")
	}
	return m, nil
}

func httpGetBody(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return b, nil
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// waitOrKill waits for cmd, which was asked to exit, at most 10 s, then
// kills it.
func waitOrKill(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}
