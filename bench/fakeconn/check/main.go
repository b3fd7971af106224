// Command check compares poolbench's fakeconn layer with fasthttp's own
// server_timing_test.go on this machine: it builds both test binaries (the
// fasthttp module's from the module cache, untouched), runs their four
// GET benchmarks at -cpu 1 interleaved over several rounds, and prints each
// side's net/http ÷ fasthttp ratio per shape and how far apart they are.
// The ratio is of CPU time per request (the child's rusage, less the CPU a
// run of no benchmark costs, over a fixed b.N calibrated in a first run), so
// other processes on a shared machine slow both sides without skewing it;
// wall ns/op is shown beside it.
// Exit 0 when every ratio of ratios is within the tolerance, 1 when one is
// not, 2 on bad flags.
//
//	go run ./bench/fakeconn/check -rounds 5 -benchtime 0.3s
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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pair is one shape run by both harnesses and both servers.
type pair struct {
	shape string
	// theirs and ours are -test.bench patterns, per model.
	theirs, ours [2]string
}

var models = [2]string{"fasthttp", "nethttp"}

var pairs = []pair{
	{"shortlived (Get1ReqPerConn)",
		[2]string{"^BenchmarkServerGet1ReqPerConn$", "^BenchmarkNetHTTPServerGet1ReqPerConn$"},
		[2]string{"^BenchmarkFakeconn$/^model=fasthttp$/^load=shortlived$", "^BenchmarkFakeconn$/^model=nethttp$/^load=shortlived$"}},
	{"keepalive (Get10KReqPerConn)",
		[2]string{"^BenchmarkServerGet10KReqPerConn$", "^BenchmarkNetHTTPServerGet10KReqPerConn$"},
		[2]string{"^BenchmarkFakeconn$/^model=fasthttp$/^load=keepalive$", "^BenchmarkFakeconn$/^model=nethttp$/^load=keepalive$"}},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakeconn-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 5, "interleaved rounds (A B A B …); the ratio is the median over rounds")
	benchtime := fs.Duration("benchtime", 300*time.Millisecond, "-test.benchtime of each benchmark run")
	tol := fs.Float64("tolerance", 0.10, "allowed relative difference between the two harnesses' ratios")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *rounds < 1:
		fmt.Fprintf(stderr, "fakeconn-check: -rounds %d: want ≥ 1, e.g. 5\n", *rounds)
		return 2
	case *benchtime <= 0:
		fmt.Fprintf(stderr, "fakeconn-check: -benchtime %v: want a positive duration, e.g. 300ms\n", *benchtime)
		return 2
	case *tol <= 0 || *tol >= 1:
		fmt.Fprintf(stderr, "fakeconn-check: -tolerance %v: want a fraction in (0, 1), e.g. 0.1\n", *tol)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := measure(ctx, *rounds, *benchtime, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "fakeconn-check:", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	if !render(stdout, res, *tol) {
		return 1
	}
	return 0
}

// sample is one benchmark run: wall and CPU nanoseconds per op.
type sample struct{ wall, cpu float64 }

// result holds the samples per round for [pair][harness 0=theirs 1=ours][model].
type result [][2][2][]sample

func measure(ctx context.Context, rounds int, benchtime time.Duration, log io.Writer) (result, error) {
	dir, err := os.MkdirTemp("", "fakeconn-check")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fhDir, err := output(ctx, "", "go", "list", "-m", "-f", "{{.Dir}}", "github.com/valyala/fasthttp")
	if err != nil {
		return nil, fmt.Errorf("locating the fasthttp module: %w", err)
	}
	bins := [2]string{filepath.Join(dir, "fasthttp.test"), filepath.Join(dir, "fakeconn.test")}
	fmt.Fprintln(log, "building fasthttp's and fakeconn's test binaries…")
	if _, err := output(ctx, "", "go", "test", "-c", "-o", bins[0], "github.com/valyala/fasthttp"); err != nil {
		return nil, err
	}
	if _, err := output(ctx, "", "go", "test", "-c", "-o", bins[1], "github.com/poolbench/poolbench/bench/fakeconn"); err != nil {
		return nil, err
	}
	dirs := [2]string{strings.TrimSpace(fhDir), ""}
	var base [2]float64 // CPU nanoseconds of a run of no benchmark
	for h := range 2 {
		for range 3 {
			_, cpu, err := runBin(ctx, dirs[h], bins[h], "-test.run", "^$", "-test.bench", "^$")
			if err != nil {
				return nil, err
			}
			if base[h] == 0 || cpu < base[h] {
				base[h] = cpu
			}
		}
	}
	// Calibrate: one run at -benchtime fixes each benchmark's b.N for the rounds.
	var iters [2][2][2]string
	for pi, p := range pairs {
		for h := range 2 {
			for m := range 2 {
				out, _, err := runBin(ctx, dirs[h], bins[h], "-test.run", "^$", "-test.bench", p.pattern(h, m), "-test.cpu", "1",
					"-test.benchtime", benchtime.String())
				if err != nil {
					return nil, err
				}
				n, _, err := parseBench(out)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", bins[h], p.pattern(h, m), err)
				}
				iters[pi][h][m] = strconv.Itoa(n) + "x"
			}
		}
	}
	res := make(result, len(pairs))
	for r := range rounds {
		fmt.Fprintf(log, "round %d of %d\n", r+1, rounds)
		for pi, p := range pairs {
			// theirs, ours, theirs, ours; reversed every other round so drift hits both.
			order := [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}}
			if r%2 == 1 {
				order = [][2]int{{1, 1}, {0, 1}, {1, 0}, {0, 0}}
			}
			for _, o := range order {
				h, m := o[0], o[1]
				pat := p.pattern(h, m)
				out, cpu, err := runBin(ctx, dirs[h], bins[h], "-test.run", "^$", "-test.bench", pat, "-test.cpu", "1",
					"-test.benchtime", iters[pi][h][m])
				if err != nil {
					return nil, err
				}
				n, ns, err := parseBench(out)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", bins[h], pat, err)
				}
				res[pi][h][m] = append(res[pi][h][m], sample{wall: ns, cpu: max(cpu-base[h], 0) / float64(n+1)})
			}
		}
	}
	return res, nil
}

// pattern is the -test.bench pattern of harness h (0 theirs, 1 ours) for model m.
func (p pair) pattern(h, m int) string {
	if h == 0 {
		return p.theirs[m]
	}
	return p.ours[m]
}

// runBin runs a test binary and returns its output and the CPU time (user
// plus system) it used, in nanoseconds.
func runBin(ctx context.Context, dir, bin string, args ...string) (string, float64, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s %s: %w: %s%s", bin, strings.Join(args, " "), err, lastLines(out), errb.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return "", 0, errors.New("no rusage for " + bin)
	}
	return string(out), float64(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// output runs a command and returns its standard output.
func output(ctx context.Context, dir, name string, args ...string) (string, error) {
	out, _, err := runBin(ctx, dir, name, args...)
	return out, err
}

func lastLines(b []byte) []byte {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return b
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

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratios returns net/http ÷ fasthttp per round, of CPU or of wall time.
func ratios(fh, nh []sample, cpu bool) []float64 {
	out := make([]float64, len(fh))
	for i := range fh {
		if cpu {
			out[i] = nh[i].cpu / fh[i].cpu
		} else {
			out[i] = nh[i].wall / fh[i].wall
		}
	}
	return out
}

func field(s []sample, cpu bool) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = x.wall
		if cpu {
			out[i] = x.cpu
		}
	}
	return out
}

// render prints both tables and the comparison; false if a ratio of ratios
// is outside tol.
func render(w io.Writer, res result, tol float64) bool {
	ok := true
	harness := [2]string{"fasthttp server_timing_test", "poolbench fakeconn"}
	fmt.Fprintf(w, "medians over %d rounds; ratio = net/http ÷ fasthttp; range = min–max over rounds\n", len(res[0][0][0]))
	fmt.Fprintf(w, "%-30s %-28s %9s %9s %7s %13s │ %9s %9s %7s %13s\n", "shape", "harness",
		"fh cpu-ns", "nh cpu-ns", "ratio", "range", "fh ns/op", "nh ns/op", "ratio", "range")
	for pi, p := range pairs {
		var rat [2]float64
		for h := range 2 {
			fmt.Fprintf(w, "%-30s %-28s", p.shape, harness[h])
			for _, cpu := range []bool{true, false} {
				rs := ratios(res[pi][h][0], res[pi][h][1], cpu)
				lo, hi := minMax(rs)
				if cpu {
					rat[h] = median(rs)
				} else {
					fmt.Fprint(w, " │")
				}
				fmt.Fprintf(w, " %9.0f %9.0f %6.2f× %5.2f–%5.2f×", median(field(res[pi][h][0], cpu)), median(field(res[pi][h][1], cpu)), median(rs), lo, hi)
			}
			fmt.Fprintln(w)
		}
		d := rat[1]/rat[0] - 1
		verdict := "within"
		if d > tol || d < -tol {
			verdict, ok = "OUTSIDE", false
		}
		fmt.Fprintf(w, "%-30s fakeconn CPU ratio ÷ fasthttp's = %.3f (%+.1f%%, %s ±%.0f%%)\n\n", p.shape, rat[1]/rat[0], 100*d, verdict, 100*tol)
	}
	return ok
}

func minMax(v []float64) (float64, float64) {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
