// Command check compares poolbench's transport=fakeconn cells with fasthttp's
// own server_timing_test.go on this machine. It builds both test binaries
// (the fasthttp module's from the module cache, untouched, and the bench
// package's), then runs fasthttp's Get1ReqPerConn and Get10KReqPerConn
// benchmarks and the plaintext fakeconn cells of the same shapes at -cpu 1,
// with as many connections as fasthttp's suite opens (runtime.NumCPU),
// interleaved round by round.
//
// The ratio compared is net/http ÷ fasthttp of CPU time per request: the
// child's rusage less that of a one-request run of the same benchmark, over
// a b.N calibrated to a fixed CPU budget. Other processes on a shared
// machine stretch wall time by whatever CPU share they leave, but CPU time
// far less, so CPU is what a busy machine can still compare; wall ns/op is
// shown beside it. Every round yields one ours ÷ theirs ratio per shape; the
// verdict is on their median and a distribution-free confidence interval
// of it (order statistics, ≥ 90%): ±10% holds when the whole interval lies
// inside, fails when it lies outside, and is undecided otherwise. While a
// verdict is undecided after -rounds, pairs of rounds are added until
// -max-time has passed since the start (build included), so a busy machine
// gets more evidence and the check still ends within about 2.5 minutes.
//
// What still differs per request, by pprof and gctrace on a 2-CPU VM:
// fasthttp's suite sends GET /foobar?baz (a query to parse) and its
// fasthttp server writes a Server header that poolbench's does not, some
// 25–50 ns on a keep-alive fasthttp request of ~800 ns; poolbench's app
// keeps its user table live, which net/http's GC cycles mark (~0.06 ms more
// CPU per cycle, ~1% of a net/http request). Keep-alive ours ÷ theirs comes
// out a few percent above 1 for that; short-lived, where both costs are a
// smaller share, near 1.
//
// Exit 0 when ±tolerance holds for every shape, 1 when it fails or is
// undecided for one, 2 on bad flags, 130/143 when interrupted.
//
//	go run ./bench/fakeconn/check -rounds 25 -cpu-per-run 100ms
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// shape is one of fasthttp's request shapes, run by both harnesses.
type shape struct {
	name, like string
	// theirs are fasthttp's -test.bench patterns, per model.
	theirs [2]string
	// load is the poolbench load of our cell.
	load string
}

var models = [2]string{"fasthttp", "nethttp"}

var shapes = []shape{
	{"shortlived", "Get1ReqPerConn",
		[2]string{"^BenchmarkServerGet1ReqPerConn$", "^BenchmarkNetHTTPServerGet1ReqPerConn$"}, "shortlived"},
	{"keepalive", "Get10KReqPerConn",
		[2]string{"^BenchmarkServerGet10KReqPerConn$", "^BenchmarkNetHTTPServerGet10KReqPerConn$"}, "keepalive"},
}

// Harnesses, as indexes.
const (
	theirs = 0
	ours   = 1
)

var harnessNames = [2]string{"fasthttp server_timing_test", "poolbench transport=fakeconn"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakeconn-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 25, "interleaved rounds; each gives one ours ÷ theirs ratio per shape")
	perRun := fs.Duration("cpu-per-run", 100*time.Millisecond, "CPU time each benchmark run is calibrated to")
	verbose := fs.Bool("v", false, "print every run on stderr")
	tol := fs.Float64("tolerance", 0.10, "allowed relative difference between the two harnesses' ratios")
	maxTime := fs.Duration("max-time", 150*time.Second, "while a verdict is undecided after -rounds, add rounds in pairs until the check has run this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "fakeconn-check: argument %q: want flags only, e.g. -rounds 11\n", fs.Arg(0))
		return 2
	case *rounds < 5:
		fmt.Fprintf(stderr, "fakeconn-check: -rounds %d: want ≥ 5 (fewer give no 90%% interval of the median), e.g. 11\n", *rounds)
		return 2
	case *perRun < 10*time.Millisecond:
		fmt.Fprintf(stderr, "fakeconn-check: -cpu-per-run %v: want ≥ 10ms, e.g. 200ms\n", *perRun)
		return 2
	case *tol <= 0 || *tol >= 1:
		fmt.Fprintf(stderr, "fakeconn-check: -tolerance %v: want a fraction in (0, 1), e.g. 0.1\n", *tol)
		return 2
	case *maxTime < 0:
		fmt.Fprintf(stderr, "fakeconn-check: -max-time %v: want a duration ≥ 0, e.g. 150s (0 never adds rounds)\n", *maxTime)
		return 2
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if s, ok := <-sigs; ok {
			cancel(signalError{s})
		}
	}()
	start := time.Now()
	load0 := loadavg()
	more := func(res result) bool { // add rounds while undecided and there is time
		return time.Since(start) < *maxTime && slices.Contains(verdicts(res, *tol), undecided)
	}
	res, err := measure(ctx, *rounds, *perRun, more, *verbose, stderr)
	if err != nil {
		var se signalError
		if errors.As(context.Cause(ctx), &se) {
			fmt.Fprintln(stderr, "fakeconn-check:", se, "- nothing measured is reported")
			if se.s == syscall.SIGTERM {
				return 143
			}
			return 130
		}
		fmt.Fprintln(stderr, "fakeconn-check:", err)
		return 1
	}
	res.load = [2]string{load0, loadavg()}
	res.elapsed = time.Since(start)
	if !render(stdout, res, *tol) {
		return 1
	}
	return 0
}

type signalError struct{ s os.Signal }

func (e signalError) Error() string { return "interrupted by " + e.s.String() }

// sample is one benchmark run.
type sample struct {
	// cpu is CPU nanoseconds per request; wall is the benchmark's ns/op.
	cpu, wall float64
	// share is the CPU the benchmark got while it ran: cpu ÷ wall.
	share float64
}

// result holds the samples of every round: runs[shape][harness][model][round].
type result struct {
	runs    [][2][2][]sample
	asked   int // -rounds; the rest were added while a verdict was undecided
	conns   int
	load    [2]string // /proc/loadavg at start and end
	elapsed time.Duration
}

// benchmark is one benchmark of one harness: how to run it and its cost of
// a one-request run.
type benchmark struct {
	bin, dir string
	args     []string
	base     float64 // CPU ns of a -test.benchtime 1x run
	n        int     // calibrated b.N
}

// measure builds, calibrates and runs the rounds: rounds of them, then pairs
// more while more says so.
func measure(ctx context.Context, rounds int, perRun time.Duration, more func(result) bool, verbose bool, log io.Writer) (result, error) {
	res := result{runs: make([][2][2][]sample, len(shapes)), conns: runtime.NumCPU(), asked: rounds}
	tmp, err := os.MkdirTemp("", "fakeconn-check")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	var dirs [2]string
	pkgs := [2]string{"github.com/valyala/fasthttp", "github.com/poolbench/poolbench/bench"}
	for h, pkg := range pkgs {
		out, err := output(ctx, "", "go", "list", "-f", "{{.Dir}}", pkg)
		if err != nil {
			return res, fmt.Errorf("locating %s: %w", pkg, err)
		}
		dirs[h] = strings.TrimSpace(out)
	}
	bins := [2]string{filepath.Join(tmp, "fasthttp.test"), filepath.Join(tmp, "bench.test")}
	fmt.Fprintln(log, "fakeconn-check: building fasthttp's and poolbench's bench test binaries…")
	for h := range 2 {
		if _, err := output(ctx, "", "go", "test", "-c", "-o", bins[h], pkgs[h]); err != nil {
			return res, err
		}
	}
	var bs [][2][2]*benchmark
	for _, s := range shapes {
		var b [2][2]*benchmark
		for m, model := range models {
			b[theirs][m] = &benchmark{bin: bins[theirs], dir: dirs[theirs],
				args: []string{"-test.run", "^$", "-test.bench", s.theirs[m], "-test.cpu", "1"}}
			b[ours][m] = &benchmark{bin: bins[ours], dir: dirs[ours],
				args: []string{"-test.run", "^$", "-test.bench", "^BenchmarkServer$", "-test.cpu", "1",
					"-poolbench.transports", "fakeconn", "-poolbench.models", model, "-poolbench.routes", "plaintext",
					"-poolbench.loads", s.load, "-poolbench.conns", strconv.Itoa(res.conns)}}
		}
		bs = append(bs, b)
	}
	fmt.Fprintf(log, "fakeconn-check: calibrating b.N of %d benchmarks to %v of CPU each (also the warm-up)…\n", 4*len(shapes), perRun)
	for _, b := range bs {
		for _, hb := range b {
			for _, x := range hb {
				if err := x.calibrate(ctx, perRun); err != nil {
					return res, err
				}
			}
		}
	}
	for r := 0; another(r, rounds, func() bool { return more(res) }); r++ {
		if r < rounds {
			fmt.Fprintf(log, "fakeconn-check: round %d of %d\n", r+1, rounds)
		} else {
			fmt.Fprintf(log, "fakeconn-check: round %d, one more while a verdict is undecided\n", r+1)
		}
		for si := range shapes {
			for _, o := range order(r) {
				h, m := o[0], o[1]
				s, err := bs[si][h][m].sample(ctx)
				if err != nil {
					return res, err
				}
				res.runs[si][h][m] = append(res.runs[si][h][m], s)
				if verbose {
					fmt.Fprintf(log, "  %-10s %-8s %-30s %7.0f cpu-ns/op %7.0f ns/op  %3.0f%% of a CPU\n",
						shapes[si].name, models[m], harnessNames[h], s.cpu, s.wall, 100*s.share)
				}
			}
		}
	}
	return res, nil
}

// another reports whether round r runs: the first rounds do, and after them
// pairs of rounds (forward and backward, see order) while more says so.
func another(r, rounds int, more func() bool) bool {
	return r < rounds || (r-rounds)%2 == 1 || more()
}

// order is the order of (harness, model) runs in round r: theirs and ours
// alternate, and every harness's two models run two places apart, so a
// drift linear in time scales both harnesses' ratios alike and cancels in
// ours ÷ theirs; odd rounds run the order backwards.
func order(r int) [][2]int {
	o := [][2]int{{theirs, 0}, {ours, 0}, {theirs, 1}, {ours, 1}}
	if r%2 == 1 {
		o = [][2]int{{ours, 1}, {theirs, 1}, {ours, 0}, {theirs, 0}}
	}
	return o
}

// calibrate measures b's one-request cost and sets b.n so that a run takes
// about perRun of CPU.
func (b *benchmark) calibrate(ctx context.Context, perRun time.Duration) error {
	for range 2 {
		_, cpu, err := b.run(ctx, 1)
		if err != nil {
			return err
		}
		if b.base == 0 || cpu < b.base {
			b.base = cpu
		}
	}
	n := 2000
	for {
		_, cpu, err := b.run(ctx, n)
		if err != nil {
			return err
		}
		spent := cpu - b.base
		if spent >= float64(perRun)/4 || n >= 1e8 {
			b.n = max(1000, int(float64(n)*float64(perRun)/max(spent, 1)))
			return nil
		}
		n *= 10
	}
}

// sample runs b at its calibrated b.N.
func (b *benchmark) sample(ctx context.Context) (sample, error) {
	ns, cpu, err := b.run(ctx, b.n)
	if err != nil {
		return sample{}, err
	}
	perOp := max(cpu-b.base, 0) / float64(b.n)
	return sample{cpu: perOp, wall: ns, share: perOp / ns}, nil
}

// run runs b with -test.benchtime nx and returns its ns/op and the process's
// CPU nanoseconds (user + system).
func (b *benchmark) run(ctx context.Context, n int) (nsop, cpu float64, err error) {
	args := append(append([]string(nil), b.args...), "-test.benchtime", strconv.Itoa(n)+"x")
	out, cpu, err := runCmd(ctx, b.dir, b.bin, args...)
	if err != nil {
		return 0, 0, err
	}
	got, nsop, err := parseBench(out)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", filepath.Base(b.bin), strings.Join(args, " "), err)
	}
	if got != n {
		return 0, 0, fmt.Errorf("%s %s: ran b.N = %d, want %d", filepath.Base(b.bin), strings.Join(args, " "), got, n)
	}
	return nsop, cpu, nil
}

// runCmd runs a command and returns its output and the CPU time (user plus
// system) it used, in nanoseconds.
func runCmd(ctx context.Context, dir, bin string, args ...string) (string, float64, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s %s: %w: %s%s", bin, strings.Join(args, " "), err, lastBytes(out), lastBytes(errb.Bytes()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return "", 0, errors.New("no rusage for " + bin)
	}
	return string(out), float64(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// output runs a command and returns its standard output.
func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	out, _, err := runCmd(ctx, dir, name, args...)
	return out, err
}

func lastBytes(b []byte) []byte {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return b
}

// loadavg returns the first three fields of /proc/loadavg, or "unknown".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// parseBench returns b.N and ns/op of the one benchmark line in out.
func parseBench(out string) (int, float64, error) {
	var ns []float64
	var n int
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		var err error
		if n, err = strconv.Atoi(f[1]); err != nil {
			return 0, 0, fmt.Errorf("bad iteration count in %q", line)
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == "ns/op" {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return 0, 0, fmt.Errorf("bad ns/op in %q", line)
				}
				ns = append(ns, v)
			}
		}
	}
	if len(ns) != 1 {
		return 0, 0, fmt.Errorf("want exactly one benchmark result, got %d in:\n%s", len(ns), out)
	}
	return n, ns[0], nil
}
