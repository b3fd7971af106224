package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/poolbench/poolbench/bench/gate"
)

// exitError ends the process with a given status after printing msg.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func cannot(format string, args ...any) error {
	return &exitError{gate.ExitCannot, fmt.Sprintf(format, args...)}
}

func gateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench gate -base <rev> [flags]

Builds the in-process benchmarks of base and head, runs them interleaved
(base head head base …) in this job, and decides with benchstat's statistics
and the policy file. With -paired, base and head run at the same time
instead, one per CPU, swapping CPUs each round, and the verdict comes from
per-pair ratios (a machine's drift hits both sides of a pair). Exit 0: no regression; 1: a regression (each named, with
delta and p); 2: could not compare (bad flag or policy, unknown rev, build
failure, too few samples, different benchmarks); 130/143: interrupted.
Leftovers of a gate that was killed are removed by the next one.

The gated cells are BenchmarkServer's, chosen by -transports, -models,
-routes, -loads, -conns and -variants (the same values as poolbench bench);
by default 4: inmem transport, keep-alive, 16 connections, both models,
the app route with all switches on and the plaintext route. The gate
prints them before building.

flags:`)
		fs.PrintDefaults()
	}
	var o gate.Options
	fs.StringVar(&o.Base, "base", "", "base git revision (branch, tag or sha); default HEAD with -base-mod or -base-go")
	fs.StringVar(&o.Head, "head", "", "head git revision (default: the working tree, uncommitted changes included)")
	fs.StringVar(&o.BaseMod, "base-mod", "", "base = head's code with this module version instead, e.g. github.com/valyala/fasthttp@v1.73.0")
	fs.StringVar(&o.BaseGo, "base-go", "", "base = head's code built by this Go toolchain, e.g. go1.25.5 (fetched through the module proxy)")
	fs.IntVar(&o.Count, "count", 8, "samples per side (runs of the benchmark binary, interleaved); with -paired, rounds (an even number) before the gate may stop")
	fs.StringVar(&o.Benchtime, "benchtime", "200ms", "go test -benchtime of each run")
	fs.StringVar(&o.CPU, "cpu", "1", "go test -cpu (GOMAXPROCS) of each run: 1 serialises client and server, which keeps the noise near 1% on a shared box")
	policyPath := fs.String("policy", "bench/gate.json", "policy file: threshold and alpha per unit")
	fs.StringVar(&o.Out, "out", "", "folder for base.txt, head.txt, benchstat.txt, gate.md (default results/gate-<time>)")
	fs.BoolVar(&o.Paired, "paired", false, "run base and head at the same time, one per CPU, swapping CPUs every round, and test per-pair ratios, leaving out disturbed pairs (see poolbench calibrate); -count is then the rounds before the gate may stop")
	fs.IntVar(&o.PairSamples, "pair-samples", gate.DefaultPairSamples, "with -paired: samples per side and round (one process each)")
	fs.IntVar(&o.MaxRounds, "max-rounds", 0, "with -paired: run more rounds, up to this many, while a finding is undecided (its interval reaches past the threshold); default -count")
	fs.BoolVar(&o.RequireClean, "require-clean", false, "fail (exit 2) if the working tree has uncommitted changes")
	o.Matrix = gate.DefaultMatrix
	fs.StringVar(&o.Matrix.Transports, "transports", o.Matrix.Transports, "cells to gate: transports")
	fs.StringVar(&o.Matrix.Models, "models", o.Matrix.Models, "cells to gate: models")
	fs.StringVar(&o.Matrix.Routes, "routes", o.Matrix.Routes, "cells to gate: routes")
	fs.StringVar(&o.Matrix.Loads, "loads", o.Matrix.Loads, "cells to gate: loads")
	fs.StringVar(&o.Matrix.Conns, "conns", o.Matrix.Conns, "cells to gate: connection counts")
	fs.StringVar(&o.Matrix.Variants, "variants", o.Matrix.Variants, "cells to gate: app variants")
	if err := parse(fs, args); err != nil {
		return err
	}
	policy, err := gate.LoadPolicy(*policyPath)
	if err != nil {
		return cannot("-policy %q: %v", *policyPath, err)
	}
	o.Policy = policy
	o.Log = os.Stderr
	sig := watchSignals()
	res, err := gate.Run(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{sig(), "interrupted; worktrees and temporary files removed"}
		}
		return cannot("%v", err) // bad input or could not compare: both exit 2
	}
	v := res.Verdict
	fmt.Printf("%s\n", res.Table)
	samples := fmt.Sprintf("%d samples each", o.Count)
	if o.Paired {
		samples = fmt.Sprintf("%d rounds of %d pairs", res.Rounds, max(o.PairSamples, 1))
	}
	fmt.Printf("poolbench gate: base = %s, head = %s, %s, %v; results in %s\n", res.BaseDesc, res.HeadDesc, samples, res.Took.Round(1e9), res.Out)
	for _, f := range v.Findings {
		if f.Pairs > 0 {
			fmt.Printf("  paired %s\n", f)
		}
	}
	switch v.ExitCode() {
	case gate.ExitCannot:
		return cannot("could not compare: %v", v.Cannot)
	case gate.ExitRegression:
		var b strings.Builder
		for _, f := range v.Regressions() {
			fmt.Fprintf(&b, "\n  REGRESSION %s", f)
		}
		return &exitError{gate.ExitRegression, fmt.Sprintf("%d regression(s):%s", len(v.Regressions()), b.String())}
	}
	fmt.Println("poolbench gate: no regression")
	return nil
}
