package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/gate"
)

// calibrateCmd measures what the gate resolves on this machine: A/A runs
// (identical code: every regression is a false alarm) and runs with a
// planted slowdown of known size in head's app handler.
func calibrateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench calibrate [flags]

Runs the gate (base and head both HEAD) -aa times with identical code, then
-runs times for each planted slowdown: head's app handler spins for that
percentage of the cell's ns/op (measured on the first A/A run's base), via
the benchmark binary's -poolbench.planted-spin, which is never on otherwise.
Prints the false-alarm rate, the detection rate per slowdown, and the
smallest slowdown caught at least 9 times in 10. Exit 0 when it ran; 2 bad
flags; 130/143 interrupted.

flags:`)
		fs.PrintDefaults()
	}
	aa := fs.Int("aa", 20, "A/A gate runs (identical code)")
	runs := fs.Int("runs", 10, "gate runs per planted slowdown")
	slowList := fs.String("slowdowns", "1,2,3,5", "planted slowdowns in percent of the cell's ns/op, comma-separated")
	count := fs.Int("count", 8, "samples per side of each gate run")
	benchtime := fs.String("benchtime", "200ms", "go test -benchtime of each sample")
	paired := fs.Bool("paired", true, "paired execution and test (gate -paired)")
	threshold := fs.Float64("threshold", 0.01, "the ns/op rule's threshold: a relative worsening above it counts")
	alpha := fs.Float64("alpha", 0.05, "the ns/op rule's significance level")
	model := fs.String("model", "fasthttp", "the server model of the gated cell (inmem, app route, keep-alive, 16 conns, all switches on)")
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
		return &exitError{2, fmt.Sprintf("-count %d: want at least 4 samples per side, e.g. -count 8", *count)}
	case *threshold < 0 || *alpha <= 0 || *alpha >= 1:
		return &exitError{2, fmt.Sprintf("-threshold %g -alpha %g: want threshold ≥ 0 and 0 < alpha < 1, e.g. -threshold 0.01 -alpha 0.05", *threshold, *alpha)}
	}
	if err := gate.CheckBenchtime(*benchtime); err != nil {
		return &exitError{2, err.Error()}
	}
	if *out == "" {
		*out = filepath.Join("results", "calibrate-"+time.Now().UTC().Format("20060102-150405"))
	}
	o := gate.Options{Base: "HEAD", Head: "HEAD", Count: *count, Benchtime: *benchtime, CPU: "1", Paired: *paired,
		Policy: &gate.Policy{MinSamples: 4, Rules: []gate.Rule{{Unit: "ns/op", Threshold: *threshold, Alpha: *alpha}}},
		Matrix: bench.Spec{Transports: "inmem", Models: *model, Routes: "app", Loads: "keepalive", Conns: "16", Variants: "all-on"}}
	if err := o.Validate(); err != nil {
		return &exitError{2, err.Error()}
	}
	sig := watchSignals()
	start := time.Now()
	n := 0
	one := func(name string, headArgs []string) (*gate.Finding, error) {
		n++
		r := o
		r.Out, r.HeadArgs = filepath.Join(*out, fmt.Sprintf("%02d-%s", n, name)), headArgs
		res, err := gate.Run(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, &exitError{sig(), "interrupted; finished gate runs are kept in " + *out}
			}
			return nil, &exitError{2, fmt.Sprintf("gate run %s: %v", name, err)}
		}
		if res.Verdict.Cannot != nil {
			return nil, &exitError{2, fmt.Sprintf("gate run %s could not compare: %v", name, res.Verdict.Cannot)}
		}
		for _, f := range res.Verdict.Findings {
			return &f, nil // one cell, one rule: one finding
		}
		return nil, &exitError{2, fmt.Sprintf("gate run %s: no ns/op finding", name)}
	}
	tally := func(label string, k int, name string, headArgs []string) (caught int, deltas []string, err error) {
		for i := range k {
			f, err := one(name, headArgs)
			if err != nil {
				return 0, nil, err
			}
			if f.Regression {
				caught++
			}
			deltas = append(deltas, fmt.Sprintf("%+.1f%%", 100*f.Delta))
			fmt.Fprintf(os.Stderr, "poolbench calibrate: %s run %d/%d: %s%s\n", label, i+1, k, f, map[bool]string{true: " REGRESSION"}[f.Regression])
		}
		return caught, deltas, nil
	}
	// The first A/A run also sizes the spins.
	first, err := one("aa", nil)
	if err != nil {
		return err
	}
	baseNs := first.Base * 1e9 // benchfmt reads ns/op as sec/op
	falseAlarms := 0
	if first.Regression {
		falseAlarms++
	}
	more, aaDeltas, err := tally("A/A", *aa-1, "aa", nil)
	if err != nil {
		return err
	}
	falseAlarms += more
	aaDeltas = append([]string{fmt.Sprintf("%+.1f%%", 100*first.Delta)}, aaDeltas...)
	var b strings.Builder
	fmt.Fprintf(&b, "poolbench calibrate: cell %s inmem app keepalive 16 conns, base %.0f ns/op; %d samples per side, -benchtime %s, paired=%v, threshold %g, alpha %g\n",
		*model, baseNs, *count, *benchtime, *paired, *threshold, *alpha)
	fmt.Fprintf(&b, "  A/A (identical code): %d false alarm(s) in %d runs; deltas %s\n", falseAlarms, *aa, strings.Join(aaDeltas, " "))
	resolved := ""
	for _, pct := range slowdowns {
		spin := time.Duration(pct / 100 * baseNs)
		caught, deltas, err := tally(fmt.Sprintf("+%g%%", pct), *runs, fmt.Sprintf("plus%g", pct), []string{"-poolbench.planted-spin=" + spin.String()})
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "  +%g%% (spin %v per request): caught %d of %d; deltas %s\n", pct, spin, caught, *runs, strings.Join(deltas, " "))
		if resolved == "" && 10*caught >= 9**runs {
			resolved = fmt.Sprintf("+%g%%", pct)
		}
	}
	if resolved == "" {
		resolved = "none of the planted slowdowns"
	}
	took := time.Since(start)
	fmt.Fprintf(&b, "  smallest slowdown caught ≥ 9 in 10: %s; %d gate runs in %v (%v each)\n", resolved, n, took.Round(time.Second), (took / time.Duration(n)).Round(time.Second))
	fmt.Print(b.String())
	return os.WriteFile(filepath.Join(*out, "calibrate.txt"), []byte(b.String()), 0o644)
}
