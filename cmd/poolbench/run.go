package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/profiles"
)

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench run [flags]\n\nRuns the process matrix: for every cell a fresh `poolbench serve` and a `poolbench load`,\npinned to disjoint CPUs, and appends Go benchmark lines to <out>/bench.txt.\n\nflags:")
		fs.PrintDefaults()
	}
	spec := runner.DefaultMatrix()
	spec.Flags(fs)
	s := runner.DefaultSettings
	if runtime.NumCPU() < 2 {
		s.ServerCPUs, s.LoadCPUs = "", ""
	}
	fs.DurationVar(&s.Duration, "duration", s.Duration, "measured window of closed-loop cells")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "unmeasured warm-up before each window")
	fs.DurationVar(&s.MaxIdleWorkerDuration, "max-idle-worker-duration", s.MaxIdleWorkerDuration, "fasthttp's MaxIdleWorkerDuration in every cell")
	fs.StringVar(&s.ServerCPUs, "server-cpus", s.ServerCPUs, "CPUs the server is pinned to (empty: not pinned)")
	fs.StringVar(&s.LoadCPUs, "load-cpus", s.LoadCPUs, "CPUs the load is pinned to (empty: not pinned)")
	fs.IntVar(&s.ServerProcs, "server-gomaxprocs", s.ServerProcs, "GOMAXPROCS of the server")
	fs.IntVar(&s.LoadProcs, "load-gomaxprocs", s.LoadProcs, "GOMAXPROCS of the load")
	count := fs.Int("count", 3, "runs of each cell, interleaved")
	out := fs.String("out", "", "run folder (default results/<yyyymmdd-hhmmss>-<sha7>)")
	asJSON := fs.Bool("json", false, "print one JSON object per cell run on stdout")
	profile := fs.Bool("profile", false, "profile runs, each cell twice: MemProfileRate=1 for the server's allocation profile, the default rate for its CPU profile, into <out>/profiles/, then profiles.md (timings distorted: run apart from timing runs)")
	resume := fs.Bool("resume", false, "finish an interrupted run in -out: skip the cells it finished (same flags required)")
	appendTo := fs.Bool("append", false, "add this run's cells to the run folder -out that holds other cells (poolbench bench runs its steps into one folder); not with -resume")
	allowShared := fs.Bool("allow-shared-cpus", false, "allow -server-cpus and -load-cpus to overlap (the load then steals the server's time)")
	noise := runner.DefaultNoise
	noiseOn := fs.Bool("noise", true, "probe the cell's CPUs around every window and retake or mark disturbed cells (false: no probes, no retakes, no disturbed verdict)")
	fs.IntVar(&noise.Retakes, "retakes", noise.Retakes, "times a disturbed cell is run again before it is kept as disturbed")
	fs.Float64Var(&noise.MaxProbeSlow, "max-probe-slow", noise.MaxProbeSlow, "percent the noise probe (before and after a window) or the clock (during it) may run slower than the run's baseline before a window counts as disturbed")
	fs.Float64Var(&noise.MaxOthers, "max-others-cpu", noise.MaxOthers, "percent of the cell's CPUs other processes may use before a window counts as disturbed")
	// multi-host (bench/runner/hosts.go, docs/multihost.md)
	serverHost := fs.String("server-host", "", "command prefix that runs `poolbench serve` on the server host, e.g. 'ssh bench@srv' or 'ip netns exec srv' (with -load-hosts)")
	loadHosts := fs.String("load-hosts", "", "comma-separated command prefixes, one `poolbench load` through each, started together, e.g. 'ssh lg1,ssh lg2'")
	serverAddr := fs.String("server-addr", "127.0.0.1:0", "with -server-host: the server's HTTP listen address, the IP the load hosts dial (port 0 picks one)")
	ship := fs.Bool("ship", false, "with -server-host: copy this poolbench binary to every host first (else `poolbench` must be on their PATH)")
	allowRemote := fs.Bool("allow-remote", false, "with -server-host: let the server listen on and the loads dial a non-loopback -server-addr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if noise.Retakes < 0 || noise.MaxProbeSlow <= 0 || noise.MaxOthers <= 0 {
		return &exitError{2, fmt.Sprintf("-retakes %d -max-probe-slow %g -max-others-cpu %g: want retakes ≥ 0 and positive percentages, e.g. -retakes 2 -max-probe-slow 15 -max-others-cpu 10",
			noise.Retakes, noise.MaxProbeSlow, noise.MaxOthers)}
	}
	// reliability: every flag checked before anything runs or is written (validate.go).
	if err := validateRun(spec, s, runChecks{count: *count, allowShared: *allowShared}); err != nil {
		return err
	}
	cells, err := spec.Cells()
	if err != nil {
		return asUsage(err) // reliability: a bad matrix value is a usage error
	}
	if err := validateCells(cells); err != nil {
		return err
	}
	multi, err := runner.ParseHosts(*serverHost, *loadHosts) // multi-host: nil without the flags
	if err != nil {
		return asUsage(err)
	}
	if multi != nil {
		multi.ServerAddr, multi.Ship, multi.AllowRemote = *serverAddr, *ship, *allowRemote
		if err := multi.Validate(cells, *profile); err != nil {
			return asUsage(err)
		}
	}
	skipped := runner.SkippedTools(spec.LoadTools) // -load-tool wrk without wrk
	if len(cells) == 0 && len(skipped) > 0 {
		return &exitError{2, fmt.Sprintf("-load-tool %q: nothing to run: %s; add driver (e.g. -load-tool driver,wrk) or install the tool", spec.LoadTools, strings.Join(skipped, "; "))}
	}
	for _, line := range skipped {
		fmt.Fprintln(os.Stderr, "poolbench run:", line)
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the poolbench binary to start servers and loads: %w", err)
	}
	sha := gitSHA()
	// reliability: the run folder and the CPUs are locked, and a folder
	// holding a run refuses unless -resume (rundir.go).
	rd, err := openRunDir(*out, sha, runSettings(fs), s, *profile, *resume, *appendTo)
	if err != nil {
		return err
	}
	defer rd.release()
	*out = rd.dir
	noise.Off = !*noiseOn
	r := &runner.Runner{Binary: bin, Dir: *out, Settings: s, Count: *count, Warn: os.Stderr, Profile: *profile, Finished: rd.finished, Noise: noise}
	benchTxt := r.BenchFile()
	r.Preamble = []byte(fmt.Sprintf("commit: %s\ngo-version: %s\nfasthttp-version: %s\nnum-cpu: %d\nkernel: %s\ndate: %s\n",
		sha, runtime.Version(), depVersion("github.com/valyala/fasthttp"), runtime.NumCPU(), kernel(), time.Now().UTC().Format(time.RFC3339)))
	if *asJSON {
		r.JSON = os.Stdout
	}
	if multi != nil {
		r.Hosts = multi
		r.Preamble = append(r.Preamble, multi.Preamble()...)
		if err := multi.Prepare(ctx, bin); err != nil {
			return err
		}
		defer multi.Close() //nolint:errcheck // removing shipped binaries
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		r.Progress = os.Stderr
	}
	start := time.Now()
	if err := r.Run(ctx, cells); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "poolbench run: %d cells × %d runs in %v → %s\n", len(cells), *count, time.Since(start).Round(time.Second), benchTxt)
	if *profile {
		md, err := profiles.WriteReport(filepath.Join(*out, "profiles"))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "poolbench run: %s\n", md)
	}
	if !noise.Off && len(r.Disturbed()) == 0 {
		fmt.Fprintln(os.Stderr, "poolbench run: no cell run stayed disturbed (the noise probe and others' CPU stayed within -max-probe-slow and -max-others-cpu)")
	}
	if d := r.DisturbedSummary(); d != "" {
		return &exitError{1, d + ": kept and marked in " + benchTxt + " (disturbed-cells:); rerun on a quieter machine or raise -retakes"}
	}
	return nil
}

// gitSHA is the short commit of the working tree, with -dirty if it has changes.
func gitSHA() string {
	b, err := exec.Command("git", "rev-parse", "--short=7", "HEAD").Output()
	if err != nil {
		return "nogit"
	}
	sha := strings.TrimSpace(string(b))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		sha += "-dirty"
	}
	return sha
}

// depVersion is the version of a module this binary was built with.
func depVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return "Linux-" + strings.TrimSpace(string(b))
}
