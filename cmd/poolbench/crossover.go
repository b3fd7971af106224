package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"

	"github.com/poolbench/poolbench/bench/crossover"
	"github.com/poolbench/poolbench/bench/runner"
)

// crossoverMetrics are the metrics a search can follow; higher says whether
// more is better, so the ratio is always fasthttp's advantage.
var crossoverMetrics = []struct {
	unit   string
	higher bool
}{{"req/s", true}, {"cpu-ns/op", false}, {"p99-ns", false}}

// crossoverCmd searches the connection count where fasthttp's advantage
// over net/http crosses a threshold.
func crossoverCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("crossover", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench crossover [flags]\n\nSearches the connection count (bisection on a log scale, then refinement) for where\nfasthttp's advantage over net/http crosses -threshold. The ratio is fasthttp/net/http for\nreq/s and net/http/fasthttp for cpu-ns/op and p99-ns, so above the threshold fasthttp wins.\nEach probe runs one fasthttp and one net/http cell (`poolbench run -count 1`) per sample and\nrepeats until the ratio's confidence interval clears the threshold or a budget runs out.\nWrites <out>/crossover.json with the curve and its intervals.\n\nflags:")
		fs.PrintDefaults()
	}
	load := fs.String("load", "keepalive", "workload swept: keepalive or shortlived")
	metric := fs.String("metric", "req/s", "metric compared: req/s, cpu-ns/op or p99-ns")
	c := crossover.Config{}
	fs.Float64Var(&c.Threshold, "threshold", 1.2, "ratio sought (fasthttp's advantage), > 0")
	fs.IntVar(&c.Min, "min-conns", 1, "fewest connections searched")
	fs.IntVar(&c.Max, "max-conns", 1024, "most connections searched")
	fs.IntVar(&c.Budget, "budget", 40, "samples (cell pairs) the whole search may take")
	fs.IntVar(&c.MinRepeats, "min-repeats", 3, "samples of a probe before its interval is read")
	fs.IntVar(&c.MaxRepeats, "max-repeats", 8, "most samples of one probe")
	fs.Float64Var(&c.Confidence, "confidence", 0.95, "confidence level of the intervals")
	assume := fs.String("assume", "nothing", "interval of the median (nothing: needs 6 samples at 95%) or the mean (normal)")
	procs := fs.String("server-gomaxprocs", "", "server GOMAXPROCS values to search at, one search each, e.g. 1,2 (default: run's)")
	duration := fs.Duration("duration", time.Second, "measured window of each cell")
	warmup := fs.Duration("warmup", 300*time.Millisecond, "warm-up of each cell")
	out := fs.String("out", "", "folder for crossover.json and the cells' runs (default results/crossover-<yyyymmdd-hhmmss>)")
	if err := parse(fs, args); err != nil {
		return err
	}
	usage := func(f, v, want string) error {
		return &exitError{2, fmt.Sprintf("-%s %q: %s", f, v, want)}
	}
	if *load != "keepalive" && *load != "shortlived" {
		return usage("load", *load, "want keepalive or shortlived")
	}
	higher, known := false, false
	for _, m := range crossoverMetrics {
		if m.unit == *metric {
			higher, known = m.higher, true
		}
	}
	if !known {
		return usage("metric", *metric, "want req/s, cpu-ns/op or p99-ns")
	}
	if !(c.Threshold > 0) {
		return usage("threshold", fmt.Sprint(c.Threshold), "want a ratio > 0, e.g. 1.2")
	}
	if c.Min < 1 || c.Max <= c.Min {
		return usage("max-conns", strconv.Itoa(c.Max), fmt.Sprintf("want 1 ≤ -min-conns (%d) < -max-conns, e.g. 1 and 1024", c.Min))
	}
	if c.Budget < 2*c.MinRepeats || c.MinRepeats < 1 || c.MaxRepeats < c.MinRepeats {
		return usage("budget", strconv.Itoa(c.Budget), fmt.Sprintf("want ≥ 2 × -min-repeats (%d) and -max-repeats ≥ -min-repeats, e.g. -budget 40", c.MinRepeats))
	}
	if !(c.Confidence > 0 && c.Confidence < 1) {
		return usage("confidence", fmt.Sprint(c.Confidence), "want a level between 0 and 1, e.g. 0.95")
	}
	switch *assume {
	case "nothing":
		c.Assumption = benchmath.AssumeNothing
	case "normal":
		c.Assumption = benchmath.AssumeNormal
	default:
		return usage("assume", *assume, "want nothing or normal")
	}
	procList := []string{""}
	if *procs != "" {
		procList = strings.Split(*procs, ",")
		for _, p := range procList {
			if n, err := strconv.Atoi(p); err != nil || n < 1 {
				return usage("server-gomaxprocs", *procs, "want GOMAXPROCS values ≥ 1, e.g. 1,2")
			}
		}
	}
	if *duration <= 0 {
		return usage("duration", duration.String(), "want a window > 0, e.g. 1s")
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the poolbench binary: %w", err)
	}
	if *out == "" {
		*out = filepath.Join("results", "crossover-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var all []crossover.Search
	for _, p := range procList {
		pm := cellPair{Binary: bin, Dir: filepath.Join(*out, "runs"), Load: *load, Metric: *metric, HigherIsBetter: higher,
			Duration: *duration, Warmup: *warmup, ServerProcs: p}
		c := c
		c.Log = func(pt crossover.Point) {
			fmt.Fprintf(os.Stderr, "poolbench crossover: %s conns=%d ratio %.3f [%.3f, %.3f] (%d samples): %v\n", *metric, pt.Conns, pt.Center, pt.Lo, pt.Hi, len(pt.Samples), pt.Side)
		}
		r, err := crossover.Find(ctx, c, pm.Measure)
		if err != nil {
			return err
		}
		all = append(all, crossover.Search{Load: *load, Metric: *metric, Threshold: c.Threshold, ServerGOMAXPROCS: p, Result: r})
		where := "no crossing in range"
		if r.Found {
			where = fmt.Sprintf("crossing between %d and %d connections (≈ %.1f)", r.Lower, r.Upper, r.Estimate)
		}
		fmt.Printf("load=%s metric=%s threshold=%g server-gomaxprocs=%s: %s; %d samples%s\n", *load, *metric, c.Threshold, orDefault(p), where, r.Samples, map[bool]string{true: ", budget spent", false: ""}[r.Exhausted])
		for _, pt := range r.Curve {
			fmt.Printf("  conns=%d\tratio %.3f\t[%.3f, %.3f] at %.0f%%\t%d samples\t%v\n", pt.Conns, pt.Center, pt.Lo, pt.Hi, 100*pt.Confidence, len(pt.Samples), pt.Side)
		}
	}
	path, err := crossover.WriteFile(*out, all)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "poolbench crossover: → %s\n", path)
	return nil
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// cellPair measures one ratio sample by running one fasthttp and one
// net/http cell at a connection count through the runner (what `poolbench
// run` does, as separate server and load processes) and reading the two
// lines of its bench.txt. It is the only part that knows how cells run.
type cellPair struct {
	Binary, Dir, Load, Metric string
	HigherIsBetter            bool
	Duration, Warmup          time.Duration
	ServerProcs               string
	n                         int
}

// Measure implements crossover.Measure.
func (m *cellPair) Measure(ctx context.Context, conns int) (float64, error) {
	dir := m.nextDir(conns)
	cells, err := pairCells(m.Load, conns)
	if err != nil {
		return 0, err
	}
	s := runner.DefaultSettings
	if runtime.NumCPU() < 2 {
		s.ServerCPUs, s.LoadCPUs = "", ""
	}
	s.Duration, s.Warmup = m.Duration, m.Warmup
	if m.ServerProcs != "" {
		if s.ServerProcs, err = strconv.Atoi(m.ServerProcs); err != nil {
			return 0, err
		}
	}
	r := &runner.Runner{Binary: m.Binary, Dir: dir, Settings: s, Count: 1}
	if err := r.Run(ctx, cells); err != nil {
		return 0, fmt.Errorf("cells at %d connections: %w", conns, err)
	}
	f, err := os.Open(r.BenchFile())
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return pairRatio(f, m.Metric, m.HigherIsBetter)
}

// nextDir is a fresh folder for the next sample: the runner appends to a
// bench.txt it finds, and another search may share -out.
func (m *cellPair) nextDir(conns int) string {
	for {
		m.n++
		dir := filepath.Join(m.Dir, fmt.Sprintf("%s-gomaxprocs=%s-%03d-conns=%d", m.Load, orDefault(m.ServerProcs), m.n, conns))
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return dir
		}
	}
}

// pairCells is one fasthttp and one net/http cell of load at conns, all
// switches on, the default memory mode (a sweep of the reduced-memory mode
// would add a second fasthttp cell).
func pairCells(load string, conns int) ([]runner.Cell, error) {
	spec := runner.DefaultMatrix()
	spec.Models, spec.Loads, spec.Routes, spec.Variants = "fasthttp,nethttp", load, "app", "all-on"
	fs := flag.NewFlagSet("crossover", flag.ContinueOnError)
	spec.Flags(fs)
	if err := fs.Parse([]string{"-" + load + "-conns", strconv.Itoa(conns)}); err != nil {
		return nil, err
	}
	all, err := spec.Cells()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c runner.Cell) bool { return c.ReduceMem }), nil
}

// pairRatio reads a bench.txt holding one fasthttp and one net/http line
// and returns fasthttp's advantage in unit.
func pairRatio(r io.Reader, unit string, higher bool) (float64, error) {
	got := map[string]float64{}
	br := benchfmt.NewReader(r, "bench.txt")
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		model := ""
		for _, part := range strings.Split(string(res.Name), "/") {
			if v, ok := strings.CutPrefix(part, "model="); ok {
				model = v
			}
		}
		for _, v := range res.Values {
			u, val := v.OrigUnit, v.OrigValue
			if u == "" { // not tidied
				u, val = v.Unit, v.Value
			}
			if u != unit || model == "" {
				continue
			}
			if _, dup := got[model]; dup {
				return 0, fmt.Errorf("bench.txt: two %s lines, want one per model", model)
			}
			got[model] = val
		}
	}
	if err := br.Err(); err != nil {
		return 0, err
	}
	f, n := got["fasthttp"], got["nethttp"]
	if f <= 0 || n <= 0 {
		return 0, errors.New("bench.txt: want one fasthttp and one nethttp line with " + unit + " > 0")
	}
	if higher {
		return f / n, nil
	}
	return n / f, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
