// Package wrk runs wrk (https://github.com/wg/wrk), an outside HTTP load
// generator, as a cross-check of poolbench's own driver: one thread, a
// given number of keep-alive connections, pinned to given CPUs, against a
// loopback URL, its output parsed into a Result.
package wrk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench/sysstat"
)

// ErrNotInstalled is returned when no wrk binary is on PATH.
var ErrNotInstalled = errors.New("wrk is not installed (Debian: apt-get install wrk); client=wrk cells are skipped")

// Config is one wrk run.
type Config struct {
	// URL is the http:// URL to load; its host must be a loopback address.
	URL string
	// Conns is wrk's -c: connections kept open.
	Conns int
	// Duration is wrk's -d: the measured window (wrk has no warm-up).
	Duration time.Duration
	// CPUs pins wrk and all its threads; empty leaves it unpinned.
	CPUs []int
	// Timeout is wrk's --timeout for one request; 0 keeps wrk's 2s.
	Timeout time.Duration
}

// Validate checks c before anything runs: no packet leaves loopback.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("wrk: URL %q: want http://127.0.0.1:<port>/path", c.URL)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("wrk: URL %q: host %q is not a loopback address; wrk only loads 127.0.0.0/8 or ::1", c.URL, u.Hostname())
	}
	if c.Conns < 1 {
		return fmt.Errorf("wrk: conns %d: want ≥ 1, e.g. 16", c.Conns)
	}
	if c.Duration < time.Second || c.Duration%time.Second != 0 {
		return fmt.Errorf("wrk: duration %v: want whole seconds ≥ 1s (wrk's -d), e.g. 2s", c.Duration)
	}
	if c.Timeout < 0 || c.Timeout%time.Millisecond != 0 {
		return fmt.Errorf("wrk: timeout %v: want whole milliseconds ≥ 0", c.Timeout)
	}
	for _, cpu := range c.CPUs {
		if cpu < 0 || cpu >= 1024 {
			return fmt.Errorf("wrk: cpu %d: want 0–1023", cpu)
		}
	}
	return nil
}

// Args returns wrk's command line for c.
func (c Config) Args() []string {
	args := []string{"-t1", "-c" + strconv.Itoa(c.Conns), "-d" + strconv.Itoa(int(c.Duration/time.Second)) + "s", "--latency"}
	if c.Timeout > 0 {
		args = append(args, "--timeout", strconv.Itoa(int(c.Timeout/time.Millisecond))+"ms")
	}
	return append(args, c.URL)
}

// Run runs wrk once and returns its parsed result and what running it cost
// the wrk process (from /proc/<pid> just before it exits, so threads
// included). A run with socket errors or non-2xx/3xx responses is returned
// with its Result and an error saying so.
func Run(ctx context.Context, c Config) (Result, sysstat.Proc, error) {
	if err := c.Validate(); err != nil {
		return Result{}, sysstat.Proc{}, err
	}
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return Result{}, sysstat.Proc{}, ErrNotInstalled
	}
	cmd := exec.CommandContext(ctx, bin, c.Args()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := startPinned(cmd, c.CPUs); err != nil {
		return Result{}, sysstat.Proc{}, fmt.Errorf("wrk: starting: %w", err)
	}
	// Read the process's counters as late as possible: poll until the
	// window is over, then every 10 ms until wrk is gone.
	pid := strconv.Itoa(cmd.Process.Pid)
	var cost sysstat.Proc
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(c.Duration)
	defer timer.Stop()
	tick := (<-chan time.Time)(nil)
	var waitErr error
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case <-timer.C:
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			tick = t.C
		case <-tick:
		}
		if p, err := sysstat.ReadProc(pid); err == nil {
			cost = p
		}
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		// rusage is exact and covers the whole run; keep /proc's switches
		// and I/O counters, which rusage lacks for system calls.
		cost.UserNanos, cost.SysNanos = ru.Utime.Nano(), ru.Stime.Nano()
		cost.Voluntary, cost.Involuntary = max(cost.Voluntary, ru.Nvcsw), max(cost.Involuntary, ru.Nivcsw)
	}
	if waitErr != nil {
		return Result{}, cost, fmt.Errorf("wrk %s: %w: %s", strings.Join(c.Args(), " "), waitErr, firstLine(stderr.String()+stdout.String()))
	}
	res, err := Parse(stdout.Bytes())
	if err != nil {
		return res, cost, err
	}
	if n := res.SocketErrors.Total(); n > 0 {
		return res, cost, fmt.Errorf("wrk: %d socket errors (%+v) in %d requests", n, res.SocketErrors, res.Requests)
	}
	if res.Non2xx3xx > 0 {
		return res, cost, fmt.Errorf("wrk: %d of %d responses were not 2xx or 3xx", res.Non2xx3xx, res.Requests)
	}
	return res, cost, nil
}

// startPinned starts cmd from a thread pinned to cpus, so the child and
// every thread it creates inherit the mask from its first instruction. The
// thread gets its old mask back afterwards and returns to the runtime: a
// locked thread that exits would fire the Pdeathsig of every child started
// from it earlier (bench/runner starts its servers with Pdeathsig SIGKILL),
// killing a server mid-cell.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var old unix.CPUSet
		if err := unix.SchedGetaffinity(0, &old); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("reading this thread's cpus: %w", err)
			return
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("pinning to cpus %v: %w", cpus, err)
			return
		}
		err := cmd.Start()
		restored := unix.SchedSetaffinity(0, &old) == nil
		errc <- err
		if !restored {
			select {} // park the pinned thread for good rather than let it exit
		}
		runtime.UnlockOSThread()
	}()
	return <-errc
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Result is what wrk printed.
type Result struct {
	// Conns is the connection count wrk reports.
	Conns int
	// Requests completed in Duration.
	Requests int64
	Duration time.Duration
	// ReqPerSec is wrk's Requests/sec.
	ReqPerSec float64
	// ReadBytes is the response bytes read (wrk rounds to 2 decimals of its unit).
	ReadBytes int64
	// LatencyAvg, LatencyStdev and LatencyMax are wrk's thread stats.
	LatencyAvg, LatencyStdev, LatencyMax time.Duration
	// Percentiles are from --latency: 50, 75, 90 and 99.
	P50, P75, P90, P99 time.Duration
	// SocketErrors are wrk's connect, read, write and timeout errors.
	SocketErrors SocketErrors
	// Non2xx3xx counts responses with another status.
	Non2xx3xx int64
}

// SocketErrors are the counts of wrk's "Socket errors" line.
type SocketErrors struct {
	Connect, Read, Write, Timeout int64
}

// Total sums them.
func (s SocketErrors) Total() int64 { return s.Connect + s.Read + s.Write + s.Timeout }

// Parse reads wrk's standard output (run with --latency).
func Parse(out []byte) (Result, error) {
	var r Result
	var seen struct{ requests, rps, p50 bool }
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) >= 4 && f[1] == "threads" && f[2] == "and":
			r.Conns, err = strconv.Atoi(f[3])
		case len(f) == 5 && f[0] == "Latency":
			if r.LatencyAvg, err = parseTime(f[1]); err == nil {
				if r.LatencyStdev, err = parseTime(f[2]); err == nil {
					r.LatencyMax, err = parseTime(f[3])
				}
			}
		case len(f) == 2 && strings.HasSuffix(f[0], "%") && !strings.HasPrefix(line, "Req"):
			var d time.Duration
			if d, err = parseTime(f[1]); err == nil {
				switch f[0] {
				case "50%":
					r.P50, seen.p50 = d, true
				case "75%":
					r.P75 = d
				case "90%":
					r.P90 = d
				case "99%":
					r.P99 = d
				}
			}
		case len(f) >= 6 && f[1] == "requests" && f[2] == "in":
			if r.Requests, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				if r.Duration, err = parseTime(strings.TrimSuffix(f[3], ",")); err == nil {
					r.ReadBytes, err = parseBytes(f[4])
				}
			}
			seen.requests = true
		case strings.HasPrefix(line, "Socket errors:"):
			_, err = fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d",
				&r.SocketErrors.Connect, &r.SocketErrors.Read, &r.SocketErrors.Write, &r.SocketErrors.Timeout)
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			r.Non2xx3xx, err = strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.ReqPerSec, err = strconv.ParseFloat(f[1], 64)
			seen.rps = true
		}
		if err != nil {
			return r, fmt.Errorf("wrk output line %q: %w", line, err)
		}
	}
	switch {
	case !seen.requests || !seen.rps:
		return r, fmt.Errorf("wrk output without a requests and a Requests/sec line: %q", firstLine(string(out)))
	case !seen.p50:
		return r, errors.New("wrk output without a latency distribution: run wrk with --latency")
	}
	return r, nil
}

// parseTime parses wrk's durations: 762.00us, 4.64ms, 2.02s, 1.50m, 1.00h.
func parseTime(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"h", time.Hour}, {"s", time.Second}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || math.IsInf(x, 0) {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(math.Round(x * float64(u.d))), nil
		}
	}
	return 0, fmt.Errorf("bad duration %q: want a number ending in us, ms, s, m or h", s)
}

// parseBytes parses wrk's binary sizes: 415.94KB, 2.60MB, 12.00B.
func parseBytes(s string) (int64, error) {
	v, ok := strings.CutSuffix(s, "B")
	if !ok {
		return 0, fmt.Errorf("bad size %q", s)
	}
	mult := 1.0
	for i, p := range []string{"K", "M", "G", "T", "P"} {
		if w, ok := strings.CutSuffix(v, p); ok {
			v, mult = w, math.Pow(1024, float64(i+1))
			break
		}
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || x < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(math.Round(x * mult)), nil
}
