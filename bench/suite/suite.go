// Package suite is `poolbench bench` (make bench): the whole pipeline of a
// run in Go — run naming, file-level keys, the in-process matrix, the client
// matrix, the technique micro-benchmarks, optional in-process profiles, the
// process layer, server-only profiles, scenarios, the report and the
// benchstat tables — with progress on a terminal and in a log.
package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/gate"
	"github.com/poolbench/poolbench/bench/report"
	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads/clients"
)

// Config is one `make bench`.
type Config struct {
	// Dir is the run folder; "" is results/<yyyymmdd-hhmmss>-<sha7>.
	Dir string
	// Count and Benchtime are go test's -count and -benchtime of the
	// in-process layer; GOMAXPROCS its -cpu.
	Count      int
	Benchtime  string
	GOMAXPROCS int
	// Matrix selects the in-process cells.
	Matrix bench.Spec
	// Profile adds one allocation profile per in-process cell.
	Profile bool
	// Proc runs the process layer, ProcCount times per cell, narrowed by
	// ProcScope, with ProcFlags added to `poolbench run` last (they win).
	Proc      bool
	ProcCount int
	ProcScope ProcScope
	ProcFlags []string
	// Poolbench is the poolbench binary the process layer runs.
	Poolbench string
	// Out gets the tables, Err the progress and warnings; TTY says Err is
	// a terminal (a bar instead of lines).
	Out, Err io.Writer
	TTY      bool
}

// ProcScope is what the in-process matrix's flags narrow in the process
// layer; empty fields keep `poolbench run`'s defaults (every model, the app
// route, keep-alive at 1,16,64,256,1024 connections).
type ProcScope struct {
	// Models and Routes replace the matrix's models and routes (-models,
	// -routes) of every process run.
	Models, Routes string
	// KeepaliveConns replaces the keep-alive sweep (-keepalive-conns).
	KeepaliveConns string
	// Variants are the app variants (-variants: default, all or a list)
	// the process layer runs besides all switches on, in their own
	// `poolbench run`: keep-alive at VariantConns connections only, on the
	// routes the switches apply to. The sweep runs all switches on.
	Variants     string
	VariantConns int
	// VariantCount is the runs per variant cell; 0 is the sweep's
	// ProcCount. Fewer than the sweep keeps make bench under 15 minutes.
	VariantCount int
	// NoTools skips the outside load tools' run (loadtools.go).
	NoTools bool
	// ProfileVariants are the variants the server-only profiles cover
	// ("" is default: all on, each switch off alone, all off).
	ProfileVariants string
}

// procRun is one `poolbench run` of the process layer.
type procRun struct {
	step  string
	args  []string // after run -json -out <dir> -count <count>
	cells int
	count int
}

// FindingError is a run that finished with a finding (a failed benchmark):
// exit 1.
type FindingError struct{ Msg string }

func (e *FindingError) Error() string { return e.Msg }

// UsageError is a bad setting, found before anything runs: exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// plan is a validated Config.
type plan struct {
	Config
	cells []bench.Cell
	procs []procRun
}

// Validate checks every setting before anything runs or is written.
func (c Config) validate() (*plan, error) {
	p := &plan{Config: c}
	if c.Count < 1 {
		return nil, &UsageError{fmt.Sprintf("-count %d: want runs per cell ≥ 1, e.g. 6", c.Count)}
	}
	if err := gate.CheckBenchtime(c.Benchtime); err != nil {
		return nil, &UsageError{err.Error()}
	}
	if c.GOMAXPROCS < 1 {
		return nil, &UsageError{fmt.Sprintf("-gomaxprocs %d: want ≥ 1, e.g. %d", c.GOMAXPROCS, runtime.NumCPU())}
	}
	m, err := c.Matrix.Parse()
	if err != nil {
		return nil, &UsageError{err.Error()}
	}
	p.cells = m.Cells()
	if c.Proc {
		if c.ProcCount < 1 {
			return nil, &UsageError{fmt.Sprintf("-proc-count %d: want runs per cell ≥ 1, e.g. 5", c.ProcCount)}
		}
		if p.procs, err = c.procRuns(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// procRuns are the process layer's `poolbench run`s: the sweep (every
// workload, all switches on) and, if ProcScope asks for variants other than
// all-on, the variants at keep-alive VariantConns connections.
func (c Config) procRuns() ([]procRun, error) {
	s := c.ProcScope
	var scope []string
	if s.Models != "" {
		scope = append(scope, "-models", s.Models)
	}
	sweep := slices.Clone(scope)
	if s.Routes != "" {
		sweep = append(sweep, "-routes", s.Routes)
	}
	if s.KeepaliveConns != "" {
		sweep = append(sweep, "-keepalive-conns", s.KeepaliveConns)
	}
	sweep = append(sweep, c.ProcFlags...)
	sweepCells, err := procMatrix(sweep)
	if err != nil {
		return nil, c.procFlagsError(err)
	}
	runs := []procRun{{step: "process layer", args: sweep, cells: len(sweepCells), count: c.ProcCount}}
	if tool := toolRun(scope, c.ProcFlags); tool != nil && !s.NoTools { // driver and wrk side by side: loadtools.go
		n, err := procCells(tool)
		if err != nil {
			return nil, c.procFlagsError(err)
		}
		runs = append(runs, procRun{step: "outside load tools", args: tool, cells: n, count: min(ToolCount, c.ProcCount)})
	}
	vs, err := app.ParseVariants(s.Variants)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("-variants %q: %v", s.Variants, err)}
	}
	// All on at VariantConns is what the variants are read against: run it
	// with them unless the sweep has it.
	var list []string
	for _, v := range vs {
		if v != app.AllOn {
			list = append(list, v.String())
		}
	}
	if len(list) > 0 && !hasKeepaliveAllOn(sweepCells, s.VariantConns) {
		list = append([]string{"all-on"}, list...)
	}
	routes := s.Routes
	if routes == "" {
		routes = runner.DefaultMatrix().Routes
	}
	rs, err := app.Routes.Parse(routes)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("-routes %q: %v", routes, err)}
	}
	var switched []string
	for _, r := range rs {
		if r.Variants {
			switched = append(switched, r.Name)
		}
	}
	if s.Variants == "" || len(list) == 0 || len(switched) == 0 {
		return runs, nil
	}
	if s.VariantConns < 1 {
		return nil, &UsageError{fmt.Sprintf("-proc-variant-conns %d: want a keep-alive connection count ≥ 1, e.g. 64", s.VariantConns)}
	}
	count := s.VariantCount
	if count == 0 {
		count = c.ProcCount
	}
	if count < 1 {
		return nil, &UsageError{fmt.Sprintf("-proc-variant-count %d: want runs per variant cell ≥ 1, e.g. 3", s.VariantCount)}
	}
	variants := append(slices.Clone(scope), "-routes", strings.Join(switched, ","))
	variants = append(append(variants, c.ProcFlags...),
		"-loads", "keepalive", "-keepalive-conns", strconv.Itoa(s.VariantConns), "-variants", strings.Join(list, ";"))
	n, err := procCells(variants)
	if err != nil {
		return nil, c.procFlagsError(err)
	}
	return append(runs, procRun{step: "process variants", args: variants, cells: n, count: count}), nil
}

// windowFlags picks -duration and -warmup, with their values, from
// `poolbench run` flags.
func windowFlags(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		name, _, hasVal := strings.Cut(strings.TrimLeft(flags[i], "-"), "=")
		if !strings.HasPrefix(flags[i], "-") || (name != "duration" && name != "warmup") {
			continue
		}
		out = append(out, flags[i])
		if !hasVal && i+1 < len(flags) {
			i++
			out = append(out, flags[i])
		}
	}
	return out
}

// hasKeepaliveAllOn reports whether cells hold a keep-alive cell at conns
// connections with every switch on.
func hasKeepaliveAllOn(cells []runner.Cell, conns int) bool {
	for _, c := range cells {
		if c.Load.Name() == "keepalive" && c.Conns == conns && c.Variant != nil && *c.Variant == app.AllOn {
			return true
		}
	}
	return false
}

// procFlagsError is a process matrix error, naming -proc-flags when it has
// any (the other process flags come from the in-process ones, checked first).
func (c Config) procFlagsError(err error) error {
	if len(c.ProcFlags) == 0 {
		return &UsageError{"process layer: " + err.Error()}
	}
	return &UsageError{fmt.Sprintf("-proc-flags %q: %v", strings.Join(c.ProcFlags, " "), err)}
}

// procCells counts the process layer's cells from the matrix flags among
// flags (the rest are `poolbench run`'s to check), validating their values.
// The matrix's flags are the ones runner.MatrixSpec registers.
func procCells(flags []string) (int, error) {
	cells, err := procMatrix(flags)
	return len(cells), err
}

// procMatrix is the process layer's cells from the matrix flags among flags.
func procMatrix(flags []string) ([]runner.Cell, error) {
	spec := runner.DefaultMatrix()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	spec.Flags(fs)
	var matrix []string
	for i := 0; i < len(flags); i++ {
		if !strings.HasPrefix(flags[i], "-") {
			continue
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(flags[i], "-"), "=")
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		matrix = append(matrix, flags[i])
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !hasVal && !isBool {
			if i+1 >= len(flags) {
				return nil, fmt.Errorf("-%s has no value", name)
			}
			i++
			matrix = append(matrix, flags[i])
		}
	}
	if err := fs.Parse(matrix); err != nil {
		return nil, err
	}
	return spec.Cells()
}

// Run runs the pipeline. Errors: *UsageError before anything ran, ctx's
// error when interrupted (finished cells kept), *FindingError when a
// benchmark failed, else what broke.
func Run(ctx context.Context, c Config) error {
	p, err := c.validate()
	if err != nil {
		return err
	}
	return p.run(ctx)
}

func (p *plan) run(ctx context.Context) error {
	sha := gitSHA(ctx)
	if p.Dir == "" {
		p.Dir = filepath.Join("results", time.Now().UTC().Format("20060102-150405")+"-"+strings.TrimSuffix(sha, "-dirty"))
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(p.Dir, "bench.txt")
	start := time.Now()
	fmt.Fprintln(p.Err, "poolbench: building the benchmark binaries")
	benchBin, appBin := filepath.Join(p.Dir, ".bench.test"), filepath.Join(p.Dir, ".app.test")
	defer os.Remove(benchBin)
	defer os.Remove(appBin)
	for _, b := range [][2]string{{benchBin, "./bench"}, {appBin, "./servers/app"}} {
		if msg, err := output(ctx, "go", "test", "-c", "-o", b[0], b[1]); err != nil {
			return interrupted(ctx, fmt.Errorf("building %s: %v: %s", b[1], err, msg))
		}
	}
	head, err := p.header(ctx, sha)
	if err != nil {
		return interrupted(ctx, err)
	}
	count, cpu := strconv.Itoa(p.Count), strconv.Itoa(p.GOMAXPROCS)
	common := []string{"-test.run=^$", "-test.benchmem", "-test.count=" + count, "-test.benchtime=" + p.Benchtime, "-test.cpu=" + cpu}
	fmt.Fprintf(p.Err, "poolbench: %d cells × count=%d at benchtime=%s, GOMAXPROCS=%d → %s\n", len(p.cells), p.Count, p.Benchtime, p.GOMAXPROCS, out)
	if err := os.WriteFile(out, []byte(head), 0o644); err != nil {
		return err
	}
	m := p.Matrix
	matrixFlags := []string{"-poolbench.conns=" + m.Conns, "-poolbench.models=" + m.Models, "-poolbench.transports=" + m.Transports,
		"-poolbench.loads=" + m.Loads, "-poolbench.routes=" + m.Routes, "-poolbench.variants=" + m.Variants}
	if err := p.benchmarks(ctx, "server", len(p.cells)*p.Count, out, benchBin, append(append(common, "-test.bench=^BenchmarkServer$"), matrixFlags...)); err != nil {
		return err
	}
	// The client models against one server (plaintext, 16 and 100 callers).
	clientCells := len(clients.Models) * 2
	if err := p.benchmarks(ctx, "client", clientCells*p.Count, out, benchBin, append(common, "-test.bench=^BenchmarkClient$", "-poolbench.conns=16,100", "-poolbench.routes=plaintext")); err != nil {
		return err
	}
	// The technique micro-benchmarks go to their own file: they have no /model.
	techniques := filepath.Join(p.Dir, "techniques.txt")
	if err := os.WriteFile(techniques, []byte(head), 0o644); err != nil {
		return err
	}
	if err := p.benchmarks(ctx, "technique", 0, techniques, appBin, append(common, "-test.bench=^BenchmarkTechnique$")); err != nil {
		return err
	}
	if p.Profile {
		if err := p.inprocessProfiles(ctx, benchBin, matrixFlags); err != nil {
			return err
		}
	}
	var findings []string // steps that exited 1: reported once the run is complete
	if p.Proc {
		for i, r := range p.procs {
			fmt.Fprintf(p.Err, "poolbench: %s: %d cells × count=%d (poolbench run -count %d %s)\n", r.step, r.cells, r.count, r.count, strings.Join(r.args, " "))
			args := append([]string{"run", "-json", "-out", p.Dir, "-count", strconv.Itoa(r.count)}, r.args...)
			if i > 0 {
				args = append(args, "-append") // the later steps add their cells to the first's folder
			}
			if err := p.poolbenchRun(ctx, r.step, r.cells*r.count, args); err != nil {
				if !isFinding(err) {
					return err
				}
				findings = append(findings, r.step+": "+err.Error())
			}
		}
		fmt.Fprintln(p.Err, "poolbench: server-only profiles, apart from the timing runs (poolbench run -profile)")
		// The profiles' windows follow the timing runs' (QUICK's 1s).
		extra := windowFlags(p.ProcFlags)
		if p.ProcScope.Models != "" {
			extra = append(extra, "-models", p.ProcScope.Models)
		}
		if v := p.ProcScope.ProfileVariants; v != "" {
			extra = append(extra, "-variants", v)
		}
		args := ProfileArgs(p.Dir, extra)
		n, err := procCells(args[1:])
		if err != nil {
			return err
		}
		if err := p.poolbenchRun(ctx, "profile", n, args); err != nil {
			if !isFinding(err) {
				return err
			}
			findings = append(findings, "profile: "+err.Error())
		}
	}
	fmt.Fprintln(p.Err, "poolbench: client pool scenarios (poolbench scenarios)")
	if err := p.scenarios(ctx); err != nil {
		return err
	}
	run, err := report.Read(p.Dir)
	if err != nil {
		return err
	}
	rep := report.Build(run)
	if err := rep.Write(p.Dir); err != nil {
		return err
	}
	for _, f := range []string{out, techniques} {
		if failed, err := hasFailure(f); err != nil {
			return err
		} else if failed {
			return &FindingError{fmt.Sprintf("a benchmark failed; see %s", f)}
		}
	}
	fmt.Fprintf(p.Out, "\npoolbench: wrote %s in %v\n", out, time.Since(start).Round(time.Second))
	p.tables(ctx, out, techniques)
	if len(findings) > 0 {
		return &FindingError{fmt.Sprintf("the run is complete, with findings (see the report): %s", strings.Join(findings, "; "))}
	}
	return nil
}

// isFinding reports whether a `poolbench run` step exited 1: a finding
// (disturbed or failed cells, marked in bench.txt), not a broken run, so the
// pipeline goes on and reports it at the end.
func isFinding(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == 1
}

// header is the file-level keys on top of bench.txt and techniques.txt.
func (p *plan) header(ctx context.Context, sha string) (string, error) {
	gover, err := output(ctx, "go", "env", "GOVERSION")
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %v: %s", err, gover)
	}
	fh, err := output(ctx, "go", "list", "-m", "-f", "{{.Version}}", "github.com/valyala/fasthttp")
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/valyala/fasthttp: %v: %s", err, fh)
	}
	var b strings.Builder
	for _, kv := range [][2]string{
		{"commit", sha}, {"go-version", gover}, {"fasthttp-version", fh}, {"layer", "inprocess"},
		{"gomaxprocs", strconv.Itoa(p.GOMAXPROCS)}, {"num-cpu", strconv.Itoa(runtime.NumCPU())},
		{"pinning", "none (in-process: server and client share one process and GOMAXPROCS)"},
		{"kernel", kernel()}, {"date", time.Now().UTC().Format("2006-01-02T15:04:05Z")}, {"benchtime", p.Benchtime},
	} {
		fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
	}
	b.WriteString("\nUnit req/s better=higher\n\n")
	return b.String(), nil
}

// benchmarks runs a test binary, appends its output to file and counts
// each result line as a finished cell; failures are echoed.
func (p *plan) benchmarks(ctx context.Context, step string, total int, file, bin string, args []string) error {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	prog := NewProgress(p.Err, p.TTY, step, total)
	defer prog.Finish()
	cmd := Command(ctx, bin, args...)
	stderr := &lineWriter{fn: func(l string) { prog.Printf("%s\n", l) }}
	cmd.Stderr = stderr
	defer stderr.flush()
	err = stream(ctx, cmd, func(line string) error {
		if _, err := fmt.Fprintln(f, line); err != nil {
			return err
		}
		switch {
		case isResult(line):
			name, _, _ := strings.Cut(line, "\t")
			prog.Done(strings.TrimSpace(name))
		case failLine.MatchString(line):
			prog.Printf("%s\n", line)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		// A failing benchmark exits non-zero: its FAIL lines are in the
		// file, and the run goes on (the check at the end exits 1).
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			prog.Printf("poolbench: %s benchmarks: %v\n", step, err)
			return f.Close()
		}
	}
	if err != nil {
		return interrupted(ctx, err)
	}
	return f.Close()
}

var failLine = regexp.MustCompile(`^(FAIL|panic:|--- FAIL)`)

// isResult reports whether line is a benchmark result line.
func isResult(line string) bool {
	return strings.HasPrefix(line, "Benchmark") && strings.Contains(line, "\t")
}

// inprocessProfiles writes one allocation profile per in-process cell,
// each from its own go test run, so each profile belongs to one cell.
func (p *plan) inprocessProfiles(ctx context.Context, bin string, matrixFlags []string) error {
	fmt.Fprintln(p.Err, "poolbench: in-process allocation profiles (-memprofilerate=1, 2000 requests per cell)")
	prog := NewProgress(p.Err, p.TTY, "inprocess profile", len(p.cells))
	defer prog.Finish()
	for _, c := range p.cells {
		name := c.Name()
		dir := filepath.Join(p.Dir, "profiles", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		b, err := Command(ctx, bin, append([]string{"-test.run=^$", "-test.bench=" + CellPattern("BenchmarkServer", name),
			"-test.benchtime=2000x", "-test.count=1", "-test.memprofile=" + filepath.Join(dir, "allocs.pb.gz"), "-test.memprofilerate=1"}, matrixFlags...)...).CombinedOutput()
		if err != nil {
			return interrupted(ctx, fmt.Errorf("profiling %s: %v: %s", name, err, lastLine(string(b))))
		}
		if err := os.WriteFile(filepath.Join(dir, "bench.txt"), b, 0o644); err != nil {
			return err
		}
		if !strings.Contains(string(b), "\nBenchmark") && !strings.HasPrefix(string(b), "Benchmark") {
			return fmt.Errorf("no benchmark matched %s", name)
		}
		prog.Done(filepath.Join(dir, "allocs.pb.gz"))
	}
	return nil
}

// CellPattern is the -test.bench pattern matching exactly one cell.
func CellPattern(benchmark, cell string) string {
	parts := []string{"^" + benchmark + "$"}
	for _, seg := range strings.Split(cell, "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(seg)+"$")
	}
	return strings.Join(parts, "/")
}

// ProfileArgs are the `poolbench run` arguments of the server-only
// profiling runs (make profile): keep-alive at 16 connections, every switch
// off alone, every model; extra flags last so they win.
func ProfileArgs(dir string, extra []string) []string {
	return append([]string{"run", "-json", "-profile", "-out", dir, "-count", "1", "-loads", "keepalive", "-keepalive-conns", "16", "-variants", "default"}, extra...)
}

// poolbenchRun runs `poolbench run -json …`, one progress step per JSON
// line (one finished cell); its warnings go above the progress.
func (p *plan) poolbenchRun(ctx context.Context, step string, total int, args []string) error {
	return RunProcess(ctx, p.Poolbench, args, step, total, p.Err, p.TTY)
}

// RunProcess runs `poolbench run -json …` with progress on w.
func RunProcess(ctx context.Context, bin string, args []string, step string, total int, w io.Writer, tty bool) error {
	prog := NewProgress(w, tty, step, total)
	defer prog.Finish()
	cmd := Command(ctx, bin, args...)
	stderr := &lineWriter{fn: func(l string) { prog.Printf("%s\n", l) }}
	cmd.Stderr = stderr
	err := stream(ctx, cmd, func(line string) error {
		var cell struct {
			Cell string `json:"cell"`
			Run  int    `json:"run"`
		}
		if json.Unmarshal([]byte(line), &cell) == nil && cell.Cell != "" {
			prog.Done(fmt.Sprintf("%s (run %d)", cell.Cell, cell.Run))
		}
		return nil
	})
	stderr.flush()
	if err != nil {
		return interrupted(ctx, fmt.Errorf("poolbench %s: %w", strings.Join(args[:1], " "), err))
	}
	return nil
}

// scenarios writes scenarios.json; a scenario that did not reproduce is
// reported, not fatal (the report shows it).
func (p *plan) scenarios(ctx context.Context) error {
	path := filepath.Join(p.Dir, "scenarios.json")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := Command(ctx, p.Poolbench, "scenarios", "-json")
	cmd.Stdout, cmd.Stderr = f, p.Err
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(p.Err, "poolbench: a scenario did not reproduce its failure or fix; see %s\n", path)
	}
	return f.Close()
}

// hasFailure reports whether a results file holds a failed benchmark.
func hasFailure(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if failLine.MatchString(sc.Text()) {
			return true, nil
		}
	}
	return false, sc.Err()
}

// Command is a child in its own process group, killed with its group when
// ctx ends and when this process dies.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// output runs a command and returns its trimmed output.
func output(ctx context.Context, name string, args ...string) (string, error) {
	b, err := Command(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(b)), err
}

// stream runs cmd, calling fn with each stdout line as it comes.
func stream(ctx context.Context, cmd *exec.Cmd, fn func(string) error) error {
	r, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var ferr error
	for sc.Scan() {
		if ferr == nil {
			ferr = fn(sc.Text())
		}
	}
	werr := cmd.Wait()
	if ferr != nil {
		return ferr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return werr
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		if line := strings.TrimRight(string(l.buf[:i]), "\r"); strings.TrimSpace(line) != "" {
			l.fn(line)
		}
		l.buf = l.buf[i+1:]
	}
}

func (l *lineWriter) flush() {
	if len(strings.TrimSpace(string(l.buf))) > 0 {
		l.fn(string(l.buf))
	}
	l.buf = nil
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// gitSHA is the short commit of the working tree, with -dirty if it has changes.
func gitSHA(ctx context.Context) string {
	sha, err := output(ctx, "git", "rev-parse", "--short=7", "HEAD")
	if err != nil {
		return "nogit"
	}
	if st, err := output(ctx, "git", "status", "--porcelain"); err == nil && st != "" {
		sha += "-dirty"
	}
	return sha
}

// kernel is uname -sr with the space as a dash, e.g. Linux-6.1.0.
func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Sysname[:]) + "-" + unix.ByteSliceToString(u.Release[:])
}
