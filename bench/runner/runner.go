package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/profiles"
)

// Runner runs process cells and appends their results to Dir/bench.txt.
type Runner struct {
	// Binary is the poolbench executable started as server and load.
	Binary string
	// Dir is the run folder.
	Dir string
	// Settings split the CPUs and time the cells.
	Settings Settings
	// Count is how many times each cell runs; the runs are interleaved
	// (all cells once, then again), so drift hits every cell alike.
	Count int
	// Profile runs every cell twice: with MemProfileRate=1 (exact
	// alloc_objects, distorted timing) for the server's allocs.pb.gz, and at
	// the default rate for its cpu.pb.gz, into Dir/profiles/<cell path>/;
	// the first run's lines go to Dir/profiles/bench.txt, apart from
	// timing runs.
	Profile bool
	// JSON, if set, receives one JSON object per cell run.
	JSON io.Writer
	// Progress, if set, shows a progress bar with an ETA (use a terminal).
	Progress io.Writer
	// Warn, if set, receives a line for every cell whose requests failed
	// (the errors metric counts them too).
	Warn io.Writer
	// OnServer and OnLoad, if set, see each child's pid as it starts.
	OnServer, OnLoad func(pid int)
	// Noise says when a cell's window counts as disturbed and how often it
	// is retaken (noise.go); the zero value measures and retakes nothing.
	Noise NoisePolicy
	noise noiseState
	// Preamble is written at the top of a bench.txt that does not exist yet,
	// with the first result (file-level keys such as commit and go-version).
	Preamble []byte
	// Finished counts result lines already in bench.txt per cell name
	// (resume): run k of a cell is skipped when Finished[cell] >= k.
	Finished map[string]int
	// CellTimeout, if set, replaces each cell's watchdog bound
	// (warm-up + window + grace).
	CellTimeout time.Duration
	// OnRetry, if set, sees each cell that failed once and runs again.
	OnRetry func(c Cell, err error)

	// Hosts, if set, runs every cell's server and loads on other hosts
	// (hosts.go: poolbench run --server-host/--load-hosts).
	Hosts *Hosts

	results *resultFile // the open bench.txt transaction (txn.go)
}

// CellResult is one cell run, as written to Runner.JSON.
type CellResult struct {
	Cell    string           `json:"cell"`
	Run     int              `json:"run"`
	Ready   Ready            `json:"server"`
	Report  *LoadReport      `json:"report"`
	Iters   int64            `json:"iterations"`
	Metrics []results.Metric `json:"metrics"`
	// Noise is what else ran in the window (noise.go); nil with Noise.Off.
	Noise *Noise `json:"noise,omitempty"`
	// Hosts is each load host's report and the server's count (multi-host runs, hosts.go).
	Hosts *HostsResult `json:"hosts,omitempty"`
}

// Run runs every cell Count times and appends the results to bench.txt.
// It stops at the first failing cell, with an error naming the cell.
func (r *Runner) Run(ctx context.Context, cells []Cell) error {
	if len(cells) == 0 {
		return fmt.Errorf("no cells to run")
	}
	need := 0
	for _, c := range cells {
		need = max(need, c.Conns)
	}
	if err := CheckFDs(need); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.BenchFile()), 0o755); err != nil {
		return err
	}
	// reliability: bench.txt is a transaction, committed cell by cell (txn.go).
	f, err := openResults(r.BenchFile(), r.Preamble)
	if err != nil {
		return err
	}
	r.results = f
	defer func() { f.Abort(); r.results = nil }()
	var failed []*CellError
	count := max(r.Count, 1)
	var bar *progressbar.ProgressBar
	if r.Progress != nil {
		bar = progressbar.NewOptions(len(cells)*count,
			progressbar.OptionSetWriter(r.Progress), progressbar.OptionSetDescription("poolbench run"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	wroteHeader := bytes.Contains(f.content, []byte("\nlayer: process")) // resumed
	for run := 1; run <= count; run++ {
		for _, c := range roundOrder(cells, run) { // models back to back, turning (order.go)
			if bar != nil {
				bar.Describe(c.Path())
			}
			if r.Finished[c.Name()] >= run { // reliability: -resume skips finished cells
				continue
			}
			// noise: runCellBounded (reliability: watchdog, rate floor, one
			// re-run), retaken while its window is disturbed (noise.go).
			res, err := r.runSteady(ctx, c, run)
			if err != nil {
				f.Abort()
				var ce *CellError
				if ctx.Err() == nil && errors.As(err, &ce) {
					failed = append(failed, ce)
					continue
				}
				return fmt.Errorf("cell %s: %w", c.Name(), err)
			}
			res.Run = run
			if !wroteHeader {
				if err := r.writeHeader(f, res); err != nil {
					return err
				}
				wroteHeader = true
			}
			if n := res.Report.Errors.Total(); n > 0 && r.Warn != nil {
				fmt.Fprintf(r.Warn, "poolbench: cell %s: %d requests failed (%v); first: %s\n", c.Name(), n, res.Report.Errors, res.Report.FirstError)
			}
			if err := results.WriteLine(f, c.Name(), res.Iters, res.Metrics); err != nil {
				return err
			}
			if err := f.Commit(); err != nil { // reliability: the line and its side files, atomically
				return err
			}
			if err := r.writeHostLines(res); err != nil { // multi-host: each load host's own result (hosts.go)
				return err
			}
			if r.JSON != nil {
				if err := json.NewEncoder(r.JSON).Encode(res); err != nil {
					return err
				}
			}
			if bar != nil {
				bar.Add(1) //nolint:errcheck
			}
		}
	}
	if err := r.writeNoiseSummary(f); err != nil { // noise: the disturbed-cells: key (noise.go)
		return err
	}
	if len(failed) > 0 {
		return &FailedCellsError{Cells: failed}
	}
	return nil
}

// BenchFile is where result lines go: Dir/bench.txt, or
// Dir/profiles/bench.txt for profiling runs.
func (r *Runner) BenchFile() string {
	if r.Profile {
		return filepath.Join(r.Dir, "profiles", "bench.txt")
	}
	return filepath.Join(r.Dir, "bench.txt")
}

// ProfileDir is where the cell's profiles go.
func (r *Runner) ProfileDir(c Cell) string {
	return filepath.Join(r.Dir, "profiles", filepath.FromSlash(c.Path()))
}

// writeHeader writes the file-level keys of the process layer, with the
// pinning the first cell's processes actually got.
func (r *Runner) writeHeader(w io.Writer, first *CellResult) error {
	s := r.Settings
	pinning := "none"
	if s.ServerCPUs != "" || s.LoadCPUs != "" {
		pinning = "sched_setaffinity on every thread"
	}
	layer := "process"
	if r.Profile {
		layer = "process-profiled (MemProfileRate=1: timings distorted)"
	}
	_, err := fmt.Fprintf(w, "\nlayer: %s\npinning: %s\nserver-cpus: %s\nload-cpus: %s\nserver-gomaxprocs: %d\nload-gomaxprocs: %d\n"+
		"window: %v\nwarmup: %v\nfasthttp-max-idle-worker-duration: %v\n\n",
		layer, pinning, first.Ready.CPUs, first.Report.LoadCPUs, first.Ready.GOMAXPROCS, first.Report.LoadGOMAXPROCS,
		s.Duration, s.Warmup, s.MaxIdleWorkerDuration)
	if err != nil {
		return err
	}
	if err := r.writeNoiseKeys(w); err != nil { // noise: probe baseline and policy (noise.go)
		return err
	}
	if err := results.WriteUnits(w); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w)
	return err
}

// RunCell runs one cell: a fresh server process, one load process, and
// checks that what the load counted agrees with what the server served.
// With Profile, it runs the cell twice (see profileCell).
func (r *Runner) RunCell(ctx context.Context, c Cell) (*CellResult, error) {
	if r.Profile {
		return r.profileCell(ctx, c)
	}
	return r.runCell(ctx, c, -1, "")
}

// runCell runs the cell once with the server at MemProfileRate rate (-1:
// the runtime's default), collecting the profile kinds listed (none if "").
func (r *Runner) runCell(ctx context.Context, c Cell, rate int, profileKinds string) (*CellResult, error) {
	if r.Hosts != nil { // multi-host: server and loads through host prefixes (hosts.go)
		return r.runCellHosts(ctx, c, rate)
	}
	serveEnv := []string{"GOMAXPROCS=" + strconv.Itoa(max(r.Settings.ServerProcs, 1))}
	srv, err := startServer(ctx, r.Binary, c.serveArgs(r.Settings, rate), serveEnv)
	if err != nil {
		return nil, err
	}
	defer srv.stop(5 * time.Second)
	if r.OnServer != nil {
		r.OnServer(srv.PID())
	}
	if want := r.Settings.ServerCPUs; want != "" && !sameCPUs(want, srv.Ready.CPUs) {
		return nil, fmt.Errorf("server pinned to cpus %s, asked for %s", srv.Ready.CPUs, want)
	}
	vegetaOut := ""
	if c.Load.Traits().Records {
		vegetaOut = r.sidePath(filepath.Join(r.Dir, "vegeta", c.Path()+".vegeta.bin")) // reliability: staged until its line
		if err := os.MkdirAll(filepath.Dir(vegetaOut), 0o755); err != nil {
			return nil, err
		}
	}
	loadEnv := []string{"GOMAXPROCS=" + strconv.Itoa(max(r.Settings.LoadProcs, 1))}
	args := c.loadArgs(r.Settings, srv.Ready, vegetaOut)
	if profileKinds != "" {
		args = append(args, "-profile-dir", r.sidePath(r.ProfileDir(c)), "-profile-kinds", profileKinds) // reliability: staged until its line
	}
	nw, err := r.beginNoise(srv.PID(), c.Load.Traits().Closed) // noise: probes, clocks and counters around the load (noise.go)
	if err != nil {
		return nil, err
	}
	defer nw.stopClocks()
	var rep *LoadReport
	if c.Tool != nil { // an outside load generator, e.g. wrk: loadtool.go
		rep, err = c.Tool.Load(ctx, c, r.Settings, srv.Ready)
	} else {
		rep, err = runLoad(ctx, r.Binary, args, loadEnv, srv, r.OnLoad)
	}
	if err != nil {
		return nil, err
	}
	noise, err := r.endNoise(nw, srv.PID(), rep) // noise
	if err != nil {
		return nil, err
	}
	if want := r.Settings.LoadCPUs; want != "" && !sameCPUs(want, rep.LoadCPUs) {
		return nil, fmt.Errorf("load pinned to cpus %s, asked for %s", rep.LoadCPUs, want)
	}
	if c.Tool == nil && rep.Errors.Total() == 0 && rep.Before != nil && rep.After != nil { // tools check their own counts
		if served := int64(rep.After.Served - rep.Before.Served); served != rep.OK {
			return nil, fmt.Errorf("the load counted %d correct responses but the server served %d requests in the window", rep.OK, served)
		}
	}
	iters, ms, err := rep.Metrics(c.Load.Traits())
	if err != nil {
		return nil, err
	}
	if noise != nil { // noise: the after-probe once the server is gone (noise.go); its figures go on the line
		srv.stop(5 * time.Second)
		if err := r.finishNoise(nw, noise); err != nil {
			return nil, err
		}
		ms = append(ms, noise.Metrics()...)
	}
	return &CellResult{Cell: c.Name(), Ready: srv.Ready, Report: rep, Iters: iters, Metrics: ms, Noise: noise}, nil
}

func writeMeta(dir string, c Cell, rep *LoadReport, ms []results.Metric) error {
	m := profiles.Meta{Cell: c.Path(), Requests: int64(rep.After.Served - rep.Before.Served), AllocsPerOp: -1}
	for _, x := range ms {
		if x.Unit == "allocs/op" {
			m.AllocsPerOp = x.Value
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, profiles.MetaFile), append(b, '\n'), 0o644)
}

// sameCPUs compares two CPU lists by the CPUs they name.
func sameCPUs(a, b string) bool {
	x, err1 := ParseCPUList(a)
	y, err2 := ParseCPUList(b)
	if err1 != nil || err2 != nil || len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
