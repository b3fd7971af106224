package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aclements/go-moremath/stats"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/gate"
	"github.com/poolbench/poolbench/servers/app"
)

// calibrateCmd measures what the gate resolves on this machine: A/A runs
// (identical code: every regression is a false alarm) and runs with a
// planted slowdown of known size in head's app handler.
func calibrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench calibrate [flags]

Builds HEAD's benchmarks once, then runs the gate on them (base and head
the same binary) -aa times with identical code, then -runs times for each
planted slowdown: head's app handler runs a fixed loop (app.Spin) sized to
that percentage of the cell's -unit, measured on the first A/A run's base,
via the benchmark binary's -poolbench.planted-work, which is never on
otherwise. One gate run between them sizes a step of the loop in place. Prints a line per gate run, then the false-alarm rate, the
detection rate per slowdown, the smallest slowdown caught at least 9
times in 10, and the time per gate run. Exit 0 when it ran; 2 bad flags
or a gate run that could not compare; 130/143 interrupted.

flags:`)
		fs.PrintDefaults()
	}
	aa := fs.Int("aa", 20, "A/A gate runs (identical code)")
	runs := fs.Int("runs", 10, "gate runs per planted slowdown")
	slowList := fs.String("slowdowns", "1,2,3,5", "planted slowdowns in percent of the cell's -unit, comma-separated")
	count := fs.Int("count", 4, "rounds of each gate run before it may stop (paired; an even number), or samples per side (unpaired)")
	pairs := fs.Int("pair-samples", gate.DefaultPairSamples, "samples per side and round (paired)")
	maxRounds := fs.Int("max-rounds", 10, "most rounds of a gate run while undecided (paired, sequential)")
	benchtime := fs.String("benchtime", "30000x", "go test -benchtime of each sample: a count (about 80 ms of fasthttp's cell here) skips go test's ramp-up runs")
	paired := fs.Bool("paired", true, "paired execution and test (gate -paired)")
	unit := fs.String("unit", "cpu-ns/op", "the gated unit: cpu-ns/op (the benchmark process's CPU time per request: not counting moments another process held its CPU) or ns/op (wall time per request)")
	threshold := fs.Float64("threshold", 0.01, "the rule's threshold: a relative worsening above it counts")
	alpha := fs.Float64("alpha", 0.05, "the rule's significance level")
	model := fs.String("model", "fasthttp", "the server model of the gated cell (inmem, app route, keep-alive, 16 conns, all switches on)")
	swap := fs.Duration("swap-every", gate.SwapEvery, "paired: swap base's and head's CPUs this often while they run; 0 only between rounds")
	out := fs.String("out", "", "folder for every gate run's files (default results/calibrate-<time>)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var slowdowns []float64
	for _, f := range strings.Split(*slowList, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v >= 100 {
			return &exitError{2, fmt.Sprintf("-slowdowns %q: want percentages between 0 and 100, comma-separated, e.g. 1,2,3,5", *slowList)}
		}
		slowdowns = append(slowdowns, v)
	}
	switch {
	case *aa < 1:
		return &exitError{2, fmt.Sprintf("-aa %d: want at least 1 A/A run (the slowdowns are sized from its base), e.g. -aa 20", *aa)}
	case *runs < 1:
		return &exitError{2, fmt.Sprintf("-runs %d: want at least 1 run per slowdown, e.g. -runs 10", *runs)}
	case *count < 4:
		return &exitError{2, fmt.Sprintf("-count %d: want at least 4 rounds (paired; an even number) or samples per side, e.g. -count 4", *count)}
	case *unit != "ns/op" && *unit != "cpu-ns/op":
		return &exitError{2, fmt.Sprintf("-unit %q: want ns/op or cpu-ns/op", *unit)}
	case *threshold < 0 || *alpha <= 0 || *alpha >= 1:
		return &exitError{2, fmt.Sprintf("-threshold %g -alpha %g: want threshold ≥ 0 and 0 < alpha < 1, e.g. -threshold 0.01 -alpha 0.05", *threshold, *alpha)}
	}
	if *swap < 0 {
		return &exitError{2, fmt.Sprintf("-swap-every %v: want a duration ≥ 0, e.g. 10ms", *swap)}
	}
	gate.SwapEvery = *swap
	if *out == "" {
		*out = filepath.Join("results", "calibrate-"+time.Now().UTC().Format("20060102-150405"))
	}
	o := gate.Options{Base: "HEAD", Head: "HEAD", Count: *count, PairSamples: *pairs, MaxRounds: *maxRounds, Benchtime: *benchtime, CPU: "1", Paired: *paired,
		Policy: &gate.Policy{MinSamples: 4, Rules: []gate.Rule{{Unit: *unit, Threshold: *threshold, Alpha: *alpha}}},
		Matrix: bench.Spec{Transports: "inmem", Models: *model, Routes: "app", Loads: "keepalive", Conns: "16", Variants: "all-on"}}
	if err := o.Validate(); err != nil {
		return &exitError{2, err.Error()}
	}
	sig := watchSignals()
	start := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "poolbench calibrate: "+format+"\n", args...) }
	stop := func(err error) error {
		if ctx.Err() != nil {
			return &exitError{sig(), "interrupted; finished gate runs are kept in " + *out}
		}
		return &exitError{2, err.Error()}
	}
	o.Log = io.Discard
	prep, err := gate.Prepare(ctx, o)
	if err != nil {
		return stop(fmt.Errorf("building: %v", err))
	}
	defer prep.Close()
	logf("built HEAD once in %v; every gate run below reuses the build", time.Since(start).Round(time.Second))
	n := 0
	var gateTime time.Duration
	one := func(name string, headArgs []string) (*gate.Finding, error) {
		n++
		r := o
		r.Out, r.HeadArgs = filepath.Join(*out, fmt.Sprintf("%02d-%s", n, name)), headArgs
		t := time.Now()
		res, err := prep.Run(ctx, r)
		if err != nil {
			return nil, stop(fmt.Errorf("gate run %s: %v", name, err))
		}
		took := time.Since(t) // res.Took of the first run includes the build
		gateTime += took
		if res.Verdict.Cannot != nil {
			return nil, &exitError{2, fmt.Sprintf("gate run %s could not compare: %v", name, res.Verdict.Cannot)}
		}
		for _, f := range res.Verdict.Findings {
			verdict := "pass"
			if f.Regression {
				verdict = "REGRESSION"
			}
			logf("run %d %s: %s in %d rounds, %v: %s", n, name, verdict, res.Rounds, took.Round(100*time.Millisecond), f)
			return &f, nil // one cell, one rule: one finding
		}
		return nil, &exitError{2, fmt.Sprintf("gate run %s: no %s finding", name, *unit)}
	}
	type row struct {
		label  string
		caught int
		deltas []float64
		base   float64 // the first run's base median, in ns (benchfmt reads ns/op as sec/op)
	}
	tally := func(label, name string, k int, headArgs []string) (row, error) {
		r := row{label: label}
		for range k {
			f, err := one(name, headArgs)
			if err != nil {
				return r, err
			}
			if f.Regression {
				r.caught++
			}
			if r.base == 0 {
				r.base = f.Base * 1e9
			}
			r.deltas = append(r.deltas, f.Delta)
		}
		return r, nil
	}
	aaRow, err := tally("A/A", "aa", 1, nil)
	if err != nil {
		return err
	}
	base := aaRow.base
	if base <= 0 {
		return &exitError{2, "the first A/A run gave no base median to size the slowdowns from"}
	}
	more, err := tally("A/A", "aa", *aa-1, nil)
	if err != nil {
		return err
	}
	aaRow.caught += more.caught
	aaRow.deltas = append(aaRow.deltas, more.deltas...)
	// Size the slowdowns in place: a step of app.Spin costs, in the
	// handler and beside the other side's process, not quite what a tight
	// loop here says, so one gate run plants a large slowdown (+20% by the
	// tight loop's cost, far above the noise) and the gate's own measure
	// of it gives a step's cost.
	loop := spinCost()
	big := int(math.Round(0.2 * base / loop))
	sized, err := one("sizing", []string{"-poolbench.planted-work=" + strconv.Itoa(big)})
	if err != nil {
		return err
	}
	step := sized.Delta * base / float64(big)
	logf("sizing: base %.0f ns/request (%s); app.Spin %.3f ns/step in a tight loop here, %.3f in the handler (%d steps: %+.1f%%)", base, *unit, loop, step, big, 100*sized.Delta)
	if step <= 0 {
		return &exitError{2, fmt.Sprintf("sizing: %d steps of app.Spin in the handler measured %+.1f%%: cannot size the slowdowns", big, 100*sized.Delta)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "poolbench calibrate: cell %s inmem app keepalive 16 conns, base %.0f %s; paired=%v (CPUs swapped every %v), %d-%d rounds of %d pairs, -benchtime %s, threshold %g, alpha %g\n",
		*model, base, *unit, *paired, *swap, *count, max(*count, *maxRounds), *pairs, *benchtime, *threshold, *alpha)
	fmt.Fprintf(&b, "\n| planted | gate runs | flagged | median delta | deltas (min … max) |\n|---|---:|---:|---:|---|\n")
	line := func(r row, k int) {
		fmt.Fprintf(&b, "| %s | %d | %d (%.0f%%) | %+.2f%% | %+.2f%% … %+.2f%% |\n", r.label, k, r.caught, 100*float64(r.caught)/float64(k),
			100*stats.Sample{Xs: r.deltas}.Quantile(0.5), 100*slices.Min(r.deltas), 100*slices.Max(r.deltas))
	}
	line(aaRow, *aa)
	resolved := ""
	for _, pct := range slowdowns {
		work := int(math.Round(pct / 100 * base / step))
		label := fmt.Sprintf("+%g%% (%d steps)", pct, work)
		r, err := tally(label, fmt.Sprintf("plus%g", pct), *runs, []string{"-poolbench.planted-work=" + strconv.Itoa(work)})
		if err != nil {
			return err
		}
		line(r, *runs)
		if resolved == "" && 10*r.caught >= 9**runs {
			resolved = fmt.Sprintf("+%g%%", pct)
		}
	}
	if resolved == "" {
		resolved = "none of the planted slowdowns"
	}
	took := time.Since(start)
	fmt.Fprintf(&b, "\nfalse alarms (A/A flagged): %d in %d (%.0f%%); A/A deltas' standard deviation %.2f%%\n", aaRow.caught, *aa, 100*float64(aaRow.caught)/float64(*aa), 100*stats.StdDev(aaRow.deltas))
	fmt.Fprintf(&b, "smallest slowdown caught ≥ 9 in 10: %s\n", resolved)
	fmt.Fprintf(&b, "%d gate runs, %v each on average (sampling and verdict; one build for all), %v in total\n", n, (gateTime / time.Duration(n)).Round(100*time.Millisecond), took.Round(time.Second))
	fmt.Print(b.String())
	return os.WriteFile(filepath.Join(*out, "calibrate.txt"), []byte(b.String()), 0o644)
}

// spinCost is app.Spin's cost per step on this machine, in ns: the fastest
// of several timings, as a benchmark's fastest run is its least disturbed.
func spinCost() float64 {
	const n = 1 << 20
	best := math.Inf(1)
	for range 15 {
		t := time.Now()
		app.Spin(n)
		best = min(best, float64(time.Since(t))/n)
	}
	return best
}
