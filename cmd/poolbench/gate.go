package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

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

// gateSide is one side of the comparison: a source tree and how to build it.
type gateSide struct {
	name  string // "base" or "head"
	desc  string // what it is, for messages
	dir   string // source tree
	env   []string
	bin   string // built test binary
	out   *os.File
	lines int
}

func gateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench gate -base <rev> [flags]

Builds the in-process benchmarks of base and head, runs them interleaved
(base head head base …) in this job, and decides with benchstat's statistics
and the policy file. Exit 0: no regression; 1: a regression (each named, with
delta and p); 2: could not compare (unknown rev, build failure, too few
samples, different benchmarks).

flags:`)
		fs.PrintDefaults()
	}
	base := fs.String("base", "", "base git revision (branch, tag or sha); default HEAD with -base-mod or -base-go")
	head := fs.String("head", "", "head git revision (default: the working tree, uncommitted changes included)")
	baseMod := fs.String("base-mod", "", "base = head's code with this module version instead, e.g. github.com/valyala/fasthttp@v1.73.0")
	baseGo := fs.String("base-go", "", "base = head's code built by this Go toolchain, e.g. go1.25.5 (fetched through the module proxy)")
	count := fs.Int("count", 8, "samples per side (runs of the benchmark binary, interleaved)")
	benchtime := fs.String("benchtime", "200ms", "go test -benchtime of each run")
	cpu := fs.String("cpu", "1", "go test -cpu (GOMAXPROCS) of each run: 1 serialises client and server, which keeps the noise near 1% on a shared box")
	policyPath := fs.String("policy", "bench/gate.json", "policy file: threshold and alpha per unit")
	out := fs.String("out", "", "folder for base.txt, head.txt, benchstat.txt, gate.md (default results/gate-<time>)")
	requireClean := fs.Bool("require-clean", false, "fail (exit 2) if the working tree has uncommitted changes")
	matrix := map[string]*string{
		"transports": fs.String("transports", "inmem", "cells to gate: transports"),
		"models":     fs.String("models", "all", "cells to gate: models"),
		"routes":     fs.String("routes", "app,plaintext", "cells to gate: routes"),
		"loads":      fs.String("loads", "keepalive", "cells to gate: loads"),
		"conns":      fs.String("conns", "16", "cells to gate: connection counts"),
		"variants":   fs.String("variants", "all-on", "cells to gate: app variants"),
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	start := time.Now()
	policy, err := gate.LoadPolicy(*policyPath)
	if err != nil {
		return cannot("%v", err)
	}
	if *count < policy.MinSamples {
		return cannot("-count %d is below the policy's min_samples %d: benchstat cannot call anything significant", *count, policy.MinSamples)
	}
	root, err := git("", "rev-parse", "--show-toplevel")
	if err != nil {
		return cannot("not in a git repository: %v", err)
	}
	dirty, err := git(root, "status", "--porcelain")
	if err != nil {
		return cannot("git status: %v", err)
	}
	if dirty != "" && *requireClean {
		return cannot("the working tree has uncommitted changes and -require-clean is set: commit or stash them")
	}
	if *base == "" && *baseMod == "" && *baseGo == "" {
		return cannot("-base is required: the revision to compare against (or -base-mod / -base-go)")
	}
	if *out == "" {
		*out = filepath.Join(root, "results", "gate-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return cannot("%v", err)
	}
	tmp, err := os.MkdirTemp("", "poolbench-gate")
	if err != nil {
		return cannot("%v", err)
	}
	defer os.RemoveAll(tmp)
	var worktrees []string
	defer func() {
		for _, w := range worktrees {
			git(root, "worktree", "remove", "--force", w) //nolint:errcheck
		}
	}()
	checkout := func(name, rev string) (string, error) {
		sha, err := git(root, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
		if err != nil || sha == "" {
			return "", cannot("%s revision %q does not exist in this repository: fetch it, or name a branch, tag or sha", name, rev)
		}
		dir := filepath.Join(tmp, name)
		if _, err := git(root, "worktree", "add", "--detach", dir, sha); err != nil {
			return "", cannot("checking out %s %s: %v", name, rev, err)
		}
		worktrees = append(worktrees, dir)
		return dir, nil
	}

	hs := &gateSide{name: "head", desc: "the working tree", dir: root}
	if *head != "" {
		if hs.dir, err = checkout("head", *head); err != nil {
			return err
		}
		hs.desc = *head
	}
	bs := &gateSide{name: "base"}
	switch {
	case *base != "":
		if bs.dir, err = checkout("base", *base); err != nil {
			return err
		}
		bs.desc = *base
	default:
		// Same code as head, other dependency or toolchain.
		bs.dir = filepath.Join(tmp, "base")
		if err := copyTree(hs.dir, bs.dir); err != nil {
			return cannot("copying head's tree for the base: %v", err)
		}
		bs.desc = hs.desc
	}
	if *baseMod != "" {
		if _, _, ok := strings.Cut(*baseMod, "@"); !ok {
			return cannot("-base-mod %q: want module@version, e.g. github.com/valyala/fasthttp@v1.73.0", *baseMod)
		}
		if msg, err := goIn(bs.dir, nil, "get", *baseMod); err != nil {
			return cannot("base: go get %s: %s", *baseMod, msg)
		}
		bs.desc += " with " + *baseMod
	}
	if *baseGo != "" {
		v := strings.TrimPrefix(*baseGo, "go")
		if msg, err := goIn(bs.dir, nil, "mod", "edit", "-go="+v, "-toolchain=none"); err != nil {
			return cannot("base: setting go %s in go.mod: %s", v, msg)
		}
		bs.env = []string{"GOTOOLCHAIN=" + *baseGo}
		bs.desc += " built by " + *baseGo
	}

	for _, s := range []*gateSide{bs, hs} {
		s.bin = filepath.Join(tmp, s.name+".test")
		fmt.Fprintf(os.Stderr, "poolbench gate: building %s (%s)\n", s.name, s.desc)
		// -trimpath: identical code gives an identical binary on both sides,
		// whatever folder it was built in (paths shift code layout).
		if msg, err := goIn(s.dir, s.env, "test", "-c", "-trimpath", "-o", s.bin, "./bench"); err != nil {
			return cannot("building %s (%s) failed: %s", s.name, s.desc, msg)
		}
		if s.out, err = os.Create(filepath.Join(*out, s.name+".txt")); err != nil {
			return cannot("%v", err)
		}
		defer s.out.Close()
		fmt.Fprintf(s.out, "Unit req/s better=higher\n\n")
	}

	runArgs := []string{"-test.run=^$", "-test.bench=^BenchmarkServer$", "-test.benchmem", "-test.count=2", "-test.benchtime=" + *benchtime, "-test.cpu=" + *cpu}
	for k, v := range matrix {
		runArgs = append(runArgs, "-poolbench."+k+"="+*v)
	}
	for i := range *count {
		order := []*gateSide{bs, hs}
		if i%2 == 1 {
			order = []*gateSide{hs, bs}
		}
		for _, s := range order {
			fmt.Fprintf(os.Stderr, "\rpoolbench gate: run %d/%d (%s)   ", i+1, *count, s.name)
			if err := s.run(ctx, runArgs); err != nil {
				fmt.Fprintln(os.Stderr)
				return err
			}
		}
	}
	fmt.Fprintln(os.Stderr)
	for _, s := range []*gateSide{bs, hs} {
		if err := s.out.Close(); err != nil {
			return cannot("%v", err)
		}
	}

	table, err := exec.CommandContext(ctx, "go", "tool", "benchstat", "base="+filepath.Join(*out, "base.txt"), "head="+filepath.Join(*out, "head.txt")).CombinedOutput()
	if err != nil {
		return cannot("benchstat: %v: %s", err, table)
	}
	os.WriteFile(filepath.Join(*out, "benchstat.txt"), table, 0o644) //nolint:errcheck

	bf, _ := os.Open(filepath.Join(*out, "base.txt"))
	defer bf.Close()
	hf, _ := os.Open(filepath.Join(*out, "head.txt"))
	defer hf.Close()
	v, err := gate.Compare(bf, hf, policy)
	if err != nil {
		return cannot("%v", err)
	}
	md := v.Markdown(bs.desc, hs.desc, string(table), *count, time.Since(start))
	os.WriteFile(filepath.Join(*out, "gate.md"), []byte(md), 0o644) //nolint:errcheck
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			io.WriteString(f, md) //nolint:errcheck
			f.Close()
		}
	}
	fmt.Printf("%s\n", table)
	fmt.Printf("poolbench gate: base = %s, head = %s, %d samples each, %v; results in %s\n", bs.desc, hs.desc, *count, time.Since(start).Round(time.Second), *out)
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

// run runs the side's benchmark binary once and appends its results.
func (s *gateSide) run(ctx context.Context, args []string) error {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return cannot("running %s (%s) failed: %v: %s", s.name, s.desc, err, lastLines(string(b)+stderr.String(), 3))
	}
	// Each cell runs twice (-test.count=2); the first is a warm-up and
	// dropped: the first timing of a fresh process is often an outlier.
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if name, _, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(line, "Benchmark") {
			if !seen[name] {
				seen[name] = true
				continue
			}
			fmt.Fprintln(s.out, line)
			s.lines++
		} else if s.lines == 0 && strings.Contains(line, ": ") && !strings.HasPrefix(line, "---") {
			fmt.Fprintln(s.out, line)
		}
	}
	if s.lines == 0 {
		return cannot("%s (%s) ran no benchmark: does it have BenchmarkServer and the -poolbench.* flags?", s.name, s.desc)
	}
	return nil
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", errors.New(lastLines(string(b), 2))
	}
	return strings.TrimSpace(string(b)), nil
}

// goIn runs the go command in dir, returning the tail of its output on failure.
func goIn(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	return lastLines(string(b), 3), err
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
func copyTree(src, dst string) error {
	list, err := git(src, "ls-files", "-co", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(list, "\n") {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the working tree
			}
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
