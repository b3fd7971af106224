package gate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench"
)

// Options is one gate run: what to compare, how to sample it and where the
// results go. Validate checks it before anything is built.
type Options struct {
	// Base is the base git revision; BaseMod and BaseGo instead (or also)
	// change head's code's dependency or toolchain.
	Base, BaseMod, BaseGo string
	// Head is the head revision; "" is the working tree.
	Head string
	// Count is the number of samples per side, interleaved (base head head
	// base …); paired, the number of rounds before the gate may stop.
	Count int
	// PairSamples is, paired, the number of samples each side takes per
	// round (one process each, all kept but the warm-up): 0 means
	// DefaultPairSamples.
	PairSamples int
	// MaxRounds is, paired, the most rounds the gate runs while a finding
	// is undecided (sequential sampling); 0 or less than Count means
	// Count.
	MaxRounds int
	// Benchtime and CPU are go test's -benchtime and -cpu of each run.
	Benchtime, CPU string
	// Policy decides what a regression is.
	Policy *Policy
	// Out is the folder for base.txt, head.txt, benchstat.txt and gate.md;
	// "" is results/gate-<time> under the repository root.
	Out string
	// RequireClean refuses a working tree with uncommitted changes.
	RequireClean bool
	// Matrix selects the gated cells.
	Matrix bench.Spec
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Paired runs base and head at the same time, one per CPU (PairedCPUs),
	// swapping CPUs every round, and tests per-pair head/base ratios
	// (ComparePaired) instead of two independent samples.
	Paired bool
	// HeadArgs are extra arguments of head's benchmark binary only, e.g.
	// -poolbench.planted-work=50 for poolbench calibrate.
	HeadArgs []string
}

// DefaultPairSamples is Options.PairSamples' default.
const DefaultPairSamples = 4

func (o *Options) pairSamples() int {
	if o.PairSamples > 0 {
		return o.PairSamples
	}
	return DefaultPairSamples
}

func (o *Options) maxRounds() int {
	return max(o.Count, o.MaxRounds)
}

// describe says how the samples were taken, for gate.md.
func (o *Options) describe(rounds int) string {
	if !o.Paired {
		return fmt.Sprintf("%d interleaved samples per side", o.Count)
	}
	return fmt.Sprintf("%d rounds of base and head at once, one per CPU, their CPUs swapped every %v, %d pairs per round", rounds, SwapEvery, o.pairSamples())
}

// UsageError is a bad option, found before anything runs (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usage(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// Validate checks every option that can be checked without building, so a
// bad flag is named before minutes of builds (exit 2).
func (o *Options) Validate() error {
	if o.Policy == nil {
		return usage("no policy: pass -policy bench/gate.json")
	}
	if o.Base == "" && o.BaseMod == "" && o.BaseGo == "" {
		return usage("-base is required: the revision to compare against (or -base-mod / -base-go)")
	}
	if o.PairSamples < 0 || o.MaxRounds < 0 {
		return usage("-pair-samples %d -max-rounds %d: want 0 (the default) or more", o.PairSamples, o.MaxRounds)
	}
	if o.Paired && o.Count%2 == 1 {
		return usage("-count %d with -paired: want an even number of rounds, so each side runs as often on each CPU, e.g. %d", o.Count, o.Count+1)
	}
	if n := o.Count * map[bool]int{true: o.pairSamples(), false: 1}[o.Paired]; n < o.Policy.MinSamples || o.Count < 1 {
		return usage("-count %d gives %d samples per side, below the policy's min_samples %d: benchstat cannot call anything significant", o.Count, n, o.Policy.MinSamples)
	}
	if err := CheckBenchtime(o.Benchtime); err != nil {
		return usage("%v", err)
	}
	for _, f := range strings.Split(o.CPU, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err != nil || n < 1 {
			return usage("-cpu %q: want GOMAXPROCS values ≥ 1, comma-separated, e.g. 1 or 1,2", o.CPU)
		}
	}
	if _, err := o.Matrix.Parse(); err != nil {
		return usage("gated cells: %v", err)
	}
	if o.BaseMod != "" {
		if m, v, ok := strings.Cut(o.BaseMod, "@"); !ok || m == "" || v == "" {
			return usage("-base-mod %q: want module@version, e.g. github.com/valyala/fasthttp@v1.73.0", o.BaseMod)
		}
	}
	if o.Paired {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil || !set.IsSet(PairedCPUs[0]) || !set.IsSet(PairedCPUs[1]) {
			return usage("-paired runs base and head on cpus %d and %d at once, but this process may not use both: drop -paired", PairedCPUs[0], PairedCPUs[1])
		}
	}
	if o.BaseGo != "" && !strings.HasPrefix(o.BaseGo, "go1.") {
		return usage("-base-go %q: want a Go toolchain name, e.g. go1.25.5", o.BaseGo)
	}
	return nil
}

// DefaultMatrix is the cells gated by default, 4: the in-memory transport,
// keep-alive at 16 connections, every model, the app route with every
// switch on and the plaintext route.
var DefaultMatrix = bench.Spec{Transports: "inmem", Models: "all", Routes: "app,plaintext", Loads: "keepalive", Conns: "16", Variants: "all-on", FlagPrefix: "-"}

// Cells are the gated cells' benchmark names, e.g.
// "BenchmarkServer/transport=inmem/…"; none if the matrix does not parse
// (Validate says why).
func (o *Options) Cells() []string {
	m, err := o.Matrix.Parse()
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range m.Cells() {
		out = append(out, "BenchmarkServer/"+c.Name())
	}
	return out
}

// CheckBenchtime accepts go test's -benchtime forms: a positive duration or Nx.
func CheckBenchtime(s string) error {
	if n, ok := strings.CutSuffix(s, "x"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return nil
	}
	return fmt.Errorf("-benchtime %q: want a positive duration or a count, e.g. 200ms or 1000x", s)
}

// Outcome is a finished gate run.
type Outcome struct {
	Verdict            *Verdict
	Table              string // benchstat base.txt head.txt
	BaseDesc, HeadDesc string
	Out                string
	Took               time.Duration
	// Rounds is how many rounds ran: paired, Count or more (sequential).
	Rounds int
}

// build is one side of the comparison: a source tree and how to build it.
type build struct {
	name  string // "base" or "head"
	desc  string // what it is, for messages
	dir   string // source tree
	env   []string
	bin   string // built test binary
	out   *os.File
	buf   *bytes.Buffer // what out receives, for the verdicts
	lines int
	args  []string // extra benchmark-binary arguments of this side
}

// Prepared is a gate's two built sides, ready to be sampled any number of
// times (poolbench calibrate builds once for all its gate runs). Close
// removes its worktrees and temporary files.
type Prepared struct {
	w      *work
	bs, hs *build
	log    io.Writer
	start  time.Time
}

// Run builds both sides (Prepare), samples them and applies the policy
// (Prepared.Run). Children run in their own process groups, are killed when
// ctx ends and when this process dies; the worktrees and temporary files
// are removed on every return, and leftovers of a gate that was killed are
// removed first. Errors are *UsageError (bad input), ctx's error
// (interrupted), or a reason the sides could not be compared.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	p, err := Prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Run(ctx, o)
}

// Prepare checks o, removes what a killed gate left, checks out and builds
// base and head.
func Prepare(ctx context.Context, o Options) (*Prepared, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	cells := o.Cells()
	fmt.Fprintf(log, "poolbench gate: gating %d cell(s) (change them with -transports -models -routes -loads -conns -variants):\n", len(cells))
	for _, c := range cells {
		fmt.Fprintf(log, "  %s\n", c)
	}
	start := time.Now()
	root, err := git(ctx, "", "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, usage("not in a git repository: %v", err)
	}
	if n, err := CleanStale(ctx, root); err != nil {
		return nil, fmt.Errorf("removing what an earlier gate left: %w", err)
	} else if n > 0 {
		fmt.Fprintf(log, "poolbench gate: removed %d leftover(s) of a gate that did not finish\n", n)
	}
	dirty, err := git(ctx, root, "status", "--porcelain")
	if err != nil {
		return nil, fmt.Errorf("git status: %w", err)
	}
	if dirty != "" && o.RequireClean {
		return nil, usage("the working tree has uncommitted changes and -require-clean is set: commit or stash them")
	}
	w, err := newWork(root)
	if err != nil {
		return nil, err
	}
	p := &Prepared{w: w, log: log, start: start}
	if err := p.build(ctx, o); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close removes the worktrees and temporary files (the built binaries too).
func (p *Prepared) Close() {
	if err := p.w.close(); err != nil {
		fmt.Fprintf(p.log, "poolbench gate: cleaning up (a later gate retries): %v\n", err)
	}
}

// build checks out and builds both sides.
func (p *Prepared) build(ctx context.Context, o Options) error {
	w := p.w
	var err error
	hs := &build{name: "head", desc: "the working tree", dir: w.root}
	if o.Head != "" {
		if hs.dir, err = w.checkout(ctx, "head", o.Head); err != nil {
			return err
		}
		hs.desc = o.Head
	}
	bs := &build{name: "base"}
	if o.Base != "" {
		if bs.dir, err = w.checkout(ctx, "base", o.Base); err != nil {
			return err
		}
		bs.desc = o.Base
	} else {
		// Same code as head, other dependency or toolchain.
		bs.dir = filepath.Join(w.tmp, "base")
		if err := copyTree(ctx, hs.dir, bs.dir); err != nil {
			return fmt.Errorf("copying head's tree for the base: %w", err)
		}
		bs.desc = hs.desc
	}
	if o.BaseMod != "" {
		if msg, err := w.goIn(ctx, bs.dir, nil, "get", o.BaseMod); err != nil {
			return interrupted(ctx, fmt.Errorf("base: go get %s: %s", o.BaseMod, msg))
		}
		bs.desc += " with " + o.BaseMod
	}
	if o.BaseGo != "" {
		v := strings.TrimPrefix(o.BaseGo, "go")
		if msg, err := w.goIn(ctx, bs.dir, nil, "mod", "edit", "-go="+v, "-toolchain=none"); err != nil {
			return interrupted(ctx, fmt.Errorf("base: setting go %s in go.mod: %s", v, msg))
		}
		bs.env = []string{"GOTOOLCHAIN=" + o.BaseGo}
		bs.desc += " built by " + o.BaseGo
	}
	for _, s := range []*build{bs, hs} {
		s.bin = filepath.Join(w.tmp, s.name+".test")
		fmt.Fprintf(p.log, "poolbench gate: building %s (%s)\n", s.name, s.desc)
		// -trimpath: identical code gives an identical binary on both sides,
		// whatever folder it was built in (paths shift code layout).
		if msg, err := w.goIn(ctx, s.dir, s.env, "test", "-c", "-trimpath", "-o", s.bin, "./bench"); err != nil {
			return interrupted(ctx, fmt.Errorf("building %s (%s) failed: %s", s.name, s.desc, msg))
		}
	}
	p.bs, p.hs = bs, hs
	return nil
}

// Run samples the prepared sides as o says (its Count, Benchtime, CPU,
// Matrix, Paired, PairSamples, MaxRounds, HeadArgs, Out and Policy; the
// revisions are Prepare's) and applies the policy. Paired, it adds rounds
// past Count, up to MaxRounds, while a paired finding is undecided.
func (p *Prepared) Run(ctx context.Context, o Options) (*Outcome, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := p.start // the first Run's time includes Prepare's
	if start.IsZero() {
		start = time.Now()
	}
	p.start = time.Time{} // a later Run's time starts at its call
	if o.Out == "" {
		o.Out = filepath.Join(p.w.root, "results", "gate-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	bs, hs := *p.bs, *p.hs
	hs.args = o.HeadArgs
	for _, s := range []*build{&bs, &hs} {
		var err error
		if s.out, err = os.Create(filepath.Join(o.Out, s.name+".txt")); err != nil {
			return nil, err
		}
		defer s.out.Close()
		s.buf = &bytes.Buffer{}
		if _, err := fmt.Fprintf(io.MultiWriter(s.out, s.buf), "Unit req/s better=higher\n\n"); err != nil {
			return nil, err
		}
	}
	perRun := 1
	if o.Paired {
		perRun = o.pairSamples()
	}
	args := []string{"-test.run=^$", "-test.bench=^BenchmarkServer$", "-test.benchmem", "-test.count=" + strconv.Itoa(perRun+1), "-test.benchtime=" + o.Benchtime, "-test.cpu=" + o.CPU}
	m := o.Matrix
	for _, kv := range [][2]string{{"transports", m.Transports}, {"models", m.Models}, {"routes", m.Routes}, {"loads", m.Loads}, {"conns", m.Conns}, {"variants", m.Variants}} {
		args = append(args, "-poolbench."+kv[0]+"="+kv[1])
	}
	log, w := p.log, p.w
	rounds := 0
	var v *Verdict
	for i := 0; ; i++ {
		if o.Paired {
			if i >= o.Count {
				// Sequential: stop once every finding is decided, after
				// an even number of rounds (each side as often on each CPU).
				var err error
				if v, err = comparePairs(bs.buf.Bytes(), hs.buf.Bytes(), o.Policy, perRun); err != nil {
					return nil, err
				}
				if i%2 == 0 && (v.decided() || i >= o.maxRounds()) {
					break
				}
			}
			fmt.Fprintf(log, "poolbench gate: round %d (base and head at once, %d pairs)\n", i+1, perRun)
			if err := w.samplePair(ctx, &bs, &hs, args, i); err != nil {
				return nil, interrupted(ctx, err)
			}
			rounds++
			continue
		}
		if i == o.Count {
			break
		}
		order := []*build{&bs, &hs}
		if i%2 == 1 {
			order = []*build{&hs, &bs}
		}
		for _, s := range order {
			fmt.Fprintf(log, "poolbench gate: run %d/%d (%s)\n", i+1, o.Count, s.name)
			if err := w.sample(ctx, s, args); err != nil {
				return nil, interrupted(ctx, err)
			}
		}
		rounds++
	}
	for _, s := range []*build{&bs, &hs} {
		if err := s.out.Close(); err != nil {
			return nil, err
		}
	}
	table, err := w.command(ctx, "", nil, "go", "tool", "benchstat", "base="+filepath.Join(o.Out, "base.txt"), "head="+filepath.Join(o.Out, "head.txt")).CombinedOutput()
	if err != nil {
		return nil, interrupted(ctx, fmt.Errorf("benchstat: %v: %s", err, lastLines(string(table), 3)))
	}
	if err := os.WriteFile(filepath.Join(o.Out, "benchstat.txt"), table, 0o644); err != nil {
		return nil, err
	}
	if o.Paired {
		v, err = comparePairs(bs.buf.Bytes(), hs.buf.Bytes(), o.Policy, perRun)
	} else {
		v, err = Compare(bytes.NewReader(bs.buf.Bytes()), bytes.NewReader(hs.buf.Bytes()), o.Policy)
	}
	if err != nil {
		return nil, err
	}
	out := &Outcome{Verdict: v, Table: string(table), BaseDesc: bs.desc, HeadDesc: hs.desc, Out: o.Out, Took: time.Since(start), Rounds: rounds}
	md := v.Markdown(bs.desc, hs.desc, out.Table, o.describe(rounds), out.Took)
	if err := os.WriteFile(filepath.Join(o.Out, "gate.md"), []byte(md), 0o644); err != nil {
		return nil, err
	}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if err := appendFile(p, md); err != nil {
			return nil, fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
	}
	return out, nil
}

// interrupted returns ctx's error when ctx ended (a child killed by the
// interrupt is not a build failure), else err.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sample runs the side's benchmark binary once and appends its results.
func (w *work) sample(ctx context.Context, s *build, args []string) error {
	return w.sampleStarted(ctx, s, args, nil)
}

// sampleStarted is sample that sends the child's pid to started, if not
// nil, once it runs.
func (w *work) sampleStarted(ctx context.Context, s *build, args []string, started chan<- int) error {
	cmd := w.command(ctx, s.dir, nil, s.bin, append(append([]string{}, args...), s.args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Start()
	if err == nil {
		if started != nil {
			started <- cmd.Process.Pid
		}
		err = cmd.Wait()
	}
	b := stdout.Bytes()
	if err != nil {
		return fmt.Errorf("running %s (%s) failed: %v: %s", s.name, s.desc, err, lastLines(string(b)+stderr.String(), 3))
	}
	// Each cell runs once more than it is sampled (-test.count); the first
	// is a warm-up and dropped: the first timing of a fresh process is
	// often an outlier.
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		keep := false
		if name, _, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(line, "Benchmark") {
			keep = seen[name]
			seen[name] = true
			if keep {
				s.lines++
			}
		} else if s.lines == 0 && strings.Contains(line, ": ") && !strings.HasPrefix(line, "---") {
			keep = true // file-level keys: goos, cpu, pkg…
		}
		if keep {
			if s.buf != nil {
				s.buf.WriteString(line + "\n")
			}
			if _, err := fmt.Fprintln(s.out, line); err != nil {
				return err
			}
		}
	}
	if s.lines == 0 {
		return fmt.Errorf("%s (%s) ran no benchmark: does it have BenchmarkServer and the -poolbench.* flags?", s.name, s.desc)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// copyTree copies the files git knows of (tracked, and untracked but not
// ignored) from src to dst.
func copyTree(ctx context.Context, src, dst string) error {
	list, err := git(ctx, src, "ls-files", "-co", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(list, "\n") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		} else if err != nil {
			return err
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// git runs git in dir and returns its trimmed output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", errors.New(lastLines(string(b), 2))
	}
	return strings.TrimSpace(string(b)), nil
}
