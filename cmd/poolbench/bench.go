package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/suite"
)

// The commands this file and pprof.go add to main's registry (main.go is
// shared; one row each there would do the same).
func init() {
	commands = append(commands,
		command{"bench", "the whole run (make bench): both layers, profiles, scenarios, report, tables", benchCmd},
		command{"pprof", "open go tool pprof's web UI on loopback for one cell's profile (make pprof)", pprofCmd})
}

func benchCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench bench [flags]

make bench: builds the in-process benchmarks and runs the server matrix, the
client matrix and the technique micro-benchmarks into
results/<yyyymmdd-hhmmss>-<sha7>/ (bench.txt, techniques.txt), then the
process layer (poolbench run) and its server-only profiles, the client
scenarios (scenarios.json), the report, and prints benchstat tables.
-only profile runs only the server-only profiling runs (make profile).

What the matrix flags narrow:
  -models     both layers (and the server-only profiles)
  -routes     both layers; unset, each layer's default (in-process:
              plaintext,app; process: app)
  -conns      the in-process matrix and, when set, the process layer's
              keep-alive sweep (default 1,16,64,256,1024); other process
              workloads keep theirs
  -variants   the in-process matrix, and the process layer's variant cells:
              keep-alive at -proc-variant-conns connections only,
              -proc-variant-count runs each, beside the sweep, which runs all
              switches on (-variants all-on: no variant cells)
  -transports, -loads   the in-process layer only (the process layer runs
              over TCP, every workload; narrow it with -proc-flags '-loads …')
The client matrix and the technique micro-benchmarks are not narrowed.

Progress: a bar on a terminal, else one line per finished cell with its ETA.
Exit 0: done; 1: a benchmark failed; 2: a bad flag (nothing run or
written); 130/143: interrupted (finished cells kept).

flags:`)
		fs.PrintDefaults()
	}
	c := suite.Config{Matrix: bench.Spec{Transports: "all", Models: "all", Routes: "all", Loads: "all", Conns: "1,16,256", Variants: "default", FlagPrefix: "-"}}
	fs.IntVar(&c.Count, "count", 6, "in-process: samples per cell (go test -count)")
	fs.StringVar(&c.Benchtime, "benchtime", "100ms", "in-process: go test -benchtime per sample")
	fs.IntVar(&c.GOMAXPROCS, "gomaxprocs", runtime.NumCPU(), "in-process: GOMAXPROCS (go test -cpu)")
	fs.StringVar(&c.Matrix.Conns, "conns", c.Matrix.Conns, "connection counts, e.g. 1,16,256: in-process; when set, also the process keep-alive sweep")
	fs.StringVar(&c.Matrix.Models, "models", c.Matrix.Models, "server models (comma-separated) or all: both layers")
	fs.StringVar(&c.Matrix.Transports, "transports", c.Matrix.Transports, "transports (comma-separated) or all: in-process only")
	fs.StringVar(&c.Matrix.Loads, "loads", c.Matrix.Loads, "loads (comma-separated) or all: in-process only")
	fs.StringVar(&c.Matrix.Routes, "routes", c.Matrix.Routes, "routes (comma-separated) or all: in-process; when set, also the process layer (default app)")
	fs.StringVar(&c.Matrix.Variants, "variants", c.Matrix.Variants, "app variants: default, all, or a list: in-process, and the process layer at keep-alive -proc-variant-conns")
	fs.BoolVar(&c.Profile, "profile", false, "in-process: also one allocation profile per cell (-memprofilerate=1) into profiles/")
	fs.BoolVar(&c.Proc, "proc", true, "run the process layer (poolbench run) and its server-only profiles")
	fs.IntVar(&c.ProcCount, "proc-count", 4, "process layer: runs per cell")
	fs.IntVar(&c.ProcScope.VariantConns, "proc-variant-conns", 64, "process layer: keep-alive connections of the variant cells")
	fs.IntVar(&c.ProcScope.VariantCount, "proc-variant-count", 2, "process layer: runs per variant cell (0: -proc-count)")
	fs.BoolVar(&c.ProcScope.NoTools, "no-tools", false, "process layer: skip the outside load tools' cells (wrk beside the driver at keep-alive 16 and 64)")
	fs.StringVar(&c.ProcScope.ProfileVariants, "profile-variants", "", "server-only profiles: the variants profiled (default: all on, each switch off alone, all off)")
	procFlags := fs.String("proc-flags", "", "process layer: more poolbench run flags, space-separated, last (they win), e.g. '-duration 1s -keepalive-conns 16'")
	fs.StringVar(&c.Dir, "out", "", "run folder (default results/<yyyymmdd-hhmmss>-<sha7>)")
	only := fs.String("only", "", "run one part only: profile (make profile: server-only profiling runs, with -proc-flags)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.ProcScope.Variants = c.Matrix.Variants
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "models":
			c.ProcScope.Models = f.Value.String()
		case "routes":
			c.ProcScope.Routes = f.Value.String()
		case "conns":
			c.ProcScope.KeepaliveConns = f.Value.String()
		}
	})
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the poolbench binary for the process layer: %w", err)
	}
	c.Poolbench, c.ProcFlags = bin, strings.Fields(*procFlags)
	c.Out, c.Err, c.TTY = os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))
	sig := watchSignals()
	switch *only {
	case "":
		err = suite.Run(ctx, c)
	case "profile":
		err = suite.Profile(ctx, c.Dir, bin, c.ProcFlags, c.Out, c.Err, c.TTY)
	default:
		return &exitError{2, fmt.Sprintf("-only %q: want profile (or no -only for the whole run)", *only)}
	}
	return suiteExit(ctx, err, sig)
}

// suiteExit maps a suite error to the exit-code contract.
func suiteExit(ctx context.Context, err error, sig func() int) error {
	var ue *suite.UsageError
	var fe *suite.FindingError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &exitError{sig(), "interrupted; finished cells are kept"}
	case errors.As(err, &ue):
		return &exitError{2, ue.Msg}
	case errors.As(err, &fe):
		return &exitError{1, fe.Msg}
	}
	return err
}
