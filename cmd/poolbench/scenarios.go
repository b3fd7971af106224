package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/poolbench/poolbench/workloads/observe"
	"github.com/poolbench/poolbench/workloads/scenarios"
)

func scenariosCmd(ctx context.Context, args []string) error {
	scenarios.RunChild() // a namespaced scenario's row, or a sweep's run, when started for one
	fs := flag.NewFlagSet("scenarios", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench scenarios [-run names] [-json]
       poolbench scenarios -fasthttp v1.38.0,v1.74.0 [-run names]
       poolbench scenarios -doctor [client flags]

Reproduces the classic client pool failures against real servers on loopback,
each with a before and an after config, and checks that the failure happens
before and is gone after (exit 1 if not). With -fasthttp, runs the scenarios
against each listed fasthttp release (a test binary built with a temporary
go.mod, from inside the poolbench source tree) and prints which behaviours
differ between releases (exit 1 only if a release cannot be built or run).
With -doctor, says which failures a client config is exposed to, by the same
rules: exit 1 if it is exposed to any, 2 for unknown clients, flags that do
not apply, negative values.

flags:`)
		fs.PrintDefaults()
	}
	run := fs.String("run", "all", "scenarios to run (comma-separated) or all")
	asJSON := fs.Bool("json", false, "print the outcomes as JSON")
	doctor := fs.Bool("doctor", false, "only diagnose the client config given by the flags below")
	versions := fs.String("fasthttp", "", "run against these fasthttp releases (comma-separated, e.g. v1.38.0,v1.74.0)")
	var c scenarios.ClientConfig
	fs.StringVar(&c.Client, "client", "fasthttp_host", "doctor: "+doctorClients())
	fs.DurationVar(&c.ServerIdle, "server-idle", 0, "doctor: the server's keep-alive idle timeout")
	fs.DurationVar(&c.ClientIdle, "client-idle", 0, "doctor: MaxIdleConnDuration (fasthttp) or IdleConnTimeout (net/http)")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "doctor: HostClient MaxConns")
	fs.DurationVar(&c.MaxConnWaitTimeout, "max-conn-wait", 0, "doctor: HostClient MaxConnWaitTimeout")
	fs.IntVar(&c.Concurrency, "concurrency", 1, "doctor: requests in flight at once")
	fs.IntVar(&c.MaxIdleConnsPerHost, "max-idle-per-host", 0, "doctor: net/http MaxIdleConnsPerHost (0 = 2, -1 = keep-alive off)")
	fs.IntVar(&c.ServerLimit, "server-limit", 0, "doctor: handlers the server runs at once at most (fasthttp Server.Concurrency; 0 = unbounded)")
	fs.BoolVar(&c.Idempotent, "idempotent", true, "doctor: the requests are idempotent (GET, HEAD, PUT…)")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 0, "doctor: MaxIdemponentCallAttempts (0 = 5)")
	fs.BoolVar(&c.DrainsBody, "drains-body", true, "doctor: the code reads every response body (fasthttp: BodyStream) to the end and closes it")
	fs.IntVar(&c.MaxIdleConns, "max-idle", 0, "doctor: net/http MaxIdleConns over all hosts (0 = DefaultTransport's 100, -1 = no limit)")
	fs.IntVar(&c.Hosts, "hosts", 1, "doctor: hosts the client talks to")
	fs.BoolVar(&c.RetryNonIdempotent, "retry-post", false, "doctor: RetryIfErr/RetryIf retry non-idempotent requests")
	fs.BoolVar(&c.ServerDedups, "server-dedup", false, "doctor: the server deduplicates requests by an idempotency key")
	fs.BoolVar(&c.StreamsBody, "stream-body", false, "doctor: fasthttp StreamResponseBody is on")
	fs.BoolVar(&c.UsesDoTimeout, "dotimeout", false, "doctor: the code uses DoTimeout/DoDeadline")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 0, "doctor: client ReadTimeout (net/http: Client.Timeout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	usageErr := func(err error) error {
		fmt.Fprintf(os.Stderr, "poolbench scenarios: %v\n", err)
		return errUsage
	}
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	if *doctor {
		if err := c.Validate(set); err != nil {
			return usageErr(err)
		}
		exps := scenarios.Doctor(c)
		if len(exps) == 0 {
			fmt.Println("doctor: no known pool failure for this config")
		}
		for _, e := range exps {
			fmt.Printf("doctor: exposed to %s: %s\n", e.Scenario, e.Why)
		}
		if len(exps) > 0 {
			// A finding, by the exit-code contract: scripts can gate on it.
			return &exitError{1, fmt.Sprintf("doctor: the config is exposed to %d known pool failure(s)", len(exps))}
		}
		return nil
	}
	for _, f := range set {
		if f != "run" && f != "json" && f != "fasthttp" {
			return usageErr(fmt.Errorf("-%s is a doctor flag: add -doctor, or drop it to run the scenarios", f))
		}
	}
	var list []scenarios.Scenario
	if *run == "all" {
		list = scenarios.All
	} else {
		for _, n := range strings.Split(*run, ",") {
			s, err := scenarios.Lookup(strings.TrimSpace(n))
			if err != nil {
				return usageErr(fmt.Errorf("-run %q: %v", *run, err))
			}
			list = append(list, s)
		}
	}
	if *versions != "" {
		vs, err := parseVersions(*versions)
		if err != nil {
			return usageErr(err)
		}
		root, err := moduleRoot()
		if err != nil {
			return usageErr(err)
		}
		return sweepVersions(ctx, root, vs, list)
	}
	// Run in a fresh network namespace where allowed: the scenarios count
	// sockets, and the host's table holds other programs' (a full TIME_WAIT
	// table hides the churn). The child does the same work with the same
	// flags and prints it; its exit code is ours.
	if code, ok := observe.Isolate(); ok {
		switch code {
		case 0:
			return nil
		case 2:
			return errUsage
		}
		return fmt.Errorf("scenarios (in a fresh network namespace) exited %d", code)
	}
	failed := 0
	for _, s := range list {
		res, err := scenarios.Evaluate(ctx, s)
		if errors.Is(err, scenarios.ErrNotAllowed) {
			fmt.Fprintf(os.Stderr, "poolbench scenarios: %s skipped: %v\n", s.Name(), err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		o, verdict := res.Outcome, res.Verdict
		if res.Failed {
			failed++
		}
		if *asJSON {
			json.NewEncoder(os.Stdout).Encode(res) //nolint:errcheck
			continue
		}
		fmt.Printf("## %s\n\nProblem: %s\nFix: %s\n\n%s\n", s.Name(), s.Problem(), s.Fix(), o.Table())
		for _, f := range o.Facts {
			fmt.Printf("- %s\n", f)
		}
		for _, r := range o.Rows {
			if r.Client.Client == "" {
				continue
			}
			exps := scenarios.Doctor(r.Client)
			names := make([]string, len(exps))
			for i, e := range exps {
				names[i] = e.Scenario
			}
			if len(names) == 0 {
				names = []string{"nothing known"}
			}
			fmt.Printf("- doctor, %s config: exposed to %s\n", r.Role, strings.Join(names, ", "))
		}
		fmt.Printf("\nVerdict: %s\n\n", verdict)
	}
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) did not reproduce their failure or their fix", failed)
	}
	return nil
}

// doctorClients lists the doctor's client names for -h.
func doctorClients() string {
	names := make([]string, len(scenarios.DoctorClients))
	for i, d := range scenarios.DoctorClients {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// parseVersions checks a -fasthttp list before anything is built.
func parseVersions(list string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if !versionRE.MatchString(v) {
			return nil, fmt.Errorf("-fasthttp %q: want release versions like v1.38.0,v1.74.0", list)
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("-fasthttp %q: %s is listed twice", list, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// moduleRoot is the poolbench source tree the sweep builds from.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("-fasthttp builds the scenarios from source: run it inside the poolbench source tree (with the go command on PATH)")
	}
	b, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(b), "module github.com/poolbench/poolbench") {
		return "", fmt.Errorf("-fasthttp: %s is not poolbench's go.mod: run it inside the poolbench source tree", gomod)
	}
	return filepath.Dir(gomod), nil
}

// sweepVersions builds the scenarios' test binary against each fasthttp
// release (go get and go test -c with a temporary -modfile, so the tree is
// not touched), runs the scenarios in it and prints a table: per scenario
// and release, the verdict and the before row's measurements, marking the
// cells whose verdict differs from the first release's.
func sweepVersions(ctx context.Context, root string, versions []string, list []scenarios.Scenario) error {
	tmp, err := os.MkdirTemp("", "poolbench-fasthttp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name()
	}
	results := map[string]map[string]*scenarios.Result{} // version → scenario → result
	problems := map[string]string{}
	for _, v := range versions {
		fmt.Fprintf(os.Stderr, "poolbench scenarios: fasthttp %s: building…\n", v)
		res, err := runVersion(ctx, root, filepath.Join(tmp, v), v, names)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			problems[v] = err.Error()
			continue
		}
		results[v] = res
	}
	fmt.Printf("## Scenarios across fasthttp releases\n\n| scenario | %s |\n|---|%s\n", strings.Join(versions, " | "), strings.Repeat("---|", len(versions)))
	for _, n := range names {
		cells := make([]string, len(versions))
		var first *scenarios.Result
		for i, v := range versions {
			switch r := results[v][n]; {
			case problems[v] != "":
				cells[i] = "not run"
			case r == nil:
				cells[i] = "not run (API missing in this release, or namespaces not allowed)"
			default:
				cells[i] = versionCell(r)
				// The verdict is the behaviour; the measurements beside it
				// vary from run to run.
				if first == nil {
					first = r
				} else if r.Verdict != first.Verdict {
					cells[i] = "**changed:** " + cells[i]
				}
			}
		}
		fmt.Printf("| %s | %s |\n", n, strings.Join(cells, " | "))
	}
	for _, v := range versions {
		for _, n := range names {
			if r := results[v][n]; r != nil && r.Outcome != nil {
				for _, f := range r.Outcome.Facts {
					fmt.Printf("- %s %s: %s\n", v, n, f)
				}
			}
		}
	}
	if len(problems) > 0 {
		for _, v := range versions {
			if p := problems[v]; p != "" {
				fmt.Fprintf(os.Stderr, "poolbench scenarios: fasthttp %s: %s\n", v, p)
			}
		}
		return fmt.Errorf("%d of %d fasthttp releases could not be built or run", len(problems), len(versions))
	}
	return nil
}

// versionCell summarises a result for the sweep table: the verdict and
// the before row's errors, dials and the server's peak of handlers.
func versionCell(r *scenarios.Result) string {
	verdict := "reproduced"
	if r.Failed {
		verdict = "differs (" + strings.TrimPrefix(r.Verdict, "CHECK FAILED: ") + ")"
	}
	if r.Outcome == nil {
		return verdict
	}
	b := r.Outcome.Row("before")
	if b == nil {
		return verdict
	}
	cells := b.Cells() // role, config, requests, ok, errors, dials, reused, server, …
	peak := "—"
	if b.Server != nil {
		peak = strconv.FormatInt(b.Server.Peak, 10)
	}
	return fmt.Sprintf("%s; before: errors %s, %s dials, server peak %s", verdict, cells[4], cells[5], peak)
}

// runVersion builds the scenarios' test binary against fasthttp version
// in dir and runs the named scenarios in it.
func runVersion(ctx context.Context, root, dir, version string, names []string) (map[string]*scenarios.Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	modfile := filepath.Join(dir, "go.mod")
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(dir, "scenarios.test")
	goRun := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			return fmt.Errorf("go %s: %v: %s", args[0], err, strings.Join(lines[:min(len(lines), 3)], "; "))
		}
		return nil
	}
	if err := goRun("get", "-modfile="+modfile, "github.com/valyala/fasthttp@"+version); err != nil {
		return nil, err
	}
	// Older releases lack APIs some scenarios use: build those out.
	if err := goRun("test", "-c", "-modfile="+modfile, "-o", bin, "./workloads/scenarios"); err != nil {
		if err2 := goRun("test", "-c", "-tags", "fasthttp_old", "-modfile="+modfile, "-o", bin, "./workloads/scenarios"); err2 != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = filepath.Join(root, "workloads", "scenarios")
	cmd.Env = append(os.Environ(), scenarios.RunEnv+"="+strings.Join(names, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: a scenario differs, which the table shows
		return nil, fmt.Errorf("running the scenarios: %v", err)
	}
	res := map[string]*scenarios.Result{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r scenarios.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("reading a result: %v", err)
		}
		res[r.Name] = &r
	}
	return res, nil
}
