package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/observe"
)

// PortExhaustion: a client that closes and redials connections leaves each
// closed one in TIME_WAIT on its side for 60 s, holding a local port; with
// few ephemeral ports, connect fails with "cannot assign requested
// address" (EADDRNOTAVAIL). Each row runs in a fresh network namespace
// (its own loopback, an ip_local_port_range of ppPorts ports, tcp_tw_reuse
// off) in a child process: net/http's default Transport (2 idle
// connections per host) under ppCallers callers runs out of ports;
// IdleConnTimeout alone does not help (it only closes idle connections
// sooner); MaxIdleConnsPerHost ≥ callers keeps the connections open and
// needs about one port per caller.
type PortExhaustion struct{}

var _ Scenario = PortExhaustion{}

// Name implements Scenario.
func (PortExhaustion) Name() string { return "port_exhaustion" }

// Problem implements Scenario.
func (PortExhaustion) Problem() string {
	return fmt.Sprintf("net/http default Transport (MaxIdleConnsPerHost=2), %d callers, %d ephemeral ports (a network namespace): churned connections hold their ports in TIME_WAIT and dials fail with \"connect: cannot assign requested address\"", ppCallers, ppPorts)
}

// Fix implements Scenario.
func (PortExhaustion) Fix() string {
	return "MaxIdleConnsPerHost (and MaxIdleConns) ≥ the callers: connections stay open, about one port per caller; IdleConnTimeout alone does not fix it"
}

const (
	ppCallers, ppPer = 32, 150
	// ppMaxPer bounds a churning row, which stops at its first
	// EADDRNOTAVAIL: how soon the ports run out depends on the machine's
	// load (a busy machine churns less), not whether they do.
	ppMaxPer = 1000
	ppPortLo = 60000
	ppPorts  = 100
	// ppEnv names the row a child process runs in its namespace.
	ppEnv = "POOLBENCH_SCENARIO_NETNS_ROW"
)

// ErrNotAllowed marks a scenario this machine cannot run (no permission
// for network namespaces); callers skip it and say why.
var ErrNotAllowed = errors.New("not allowed here")

type ppRow struct {
	role, desc  string
	perHost     int
	idleTimeout time.Duration
}

var ppRows = []ppRow{
	{"before", "net/http default Transport (MaxIdleConnsPerHost=2)", 0, 0},
	{"also", "net/http MaxIdleConnsPerHost=2, IdleConnTimeout=1s", 0, time.Second},
	{"after", fmt.Sprintf("net/http MaxIdleConnsPerHost=%d", ppCallers), ppCallers, 0},
}

// Run implements Scenario: one child process per row, each in a new user
// and network namespace.
func (s PortExhaustion) Run(ctx context.Context) (*Outcome, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	o := &Outcome{}
	for i, r := range ppRows {
		// The same command line: poolbench's scenarios command and test
		// binaries' TestMain both call RunChild before anything else.
		cmd := observe.NetnsCommand(ctx, exe)
		cmd.Env = append(os.Environ(), ppEnv+"="+strconv.Itoa(i))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
				return nil, fmt.Errorf("%w: creating a user and network namespace: %v (needs unprivileged user namespaces, e.g. sysctl kernel.unprivileged_userns_clone=1, or root)", ErrNotAllowed, err)
			}
			return nil, fmt.Errorf("%s row in its namespace: %w", r.role, err)
		}
		var row Row
		if err := json.Unmarshal(out, &row); err != nil {
			return nil, fmt.Errorf("%s row: reading the child's result: %w", r.role, err)
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d dials for %d requests, %d failed with EADDRNOTAVAIL; client TIME_WAIT peaked at %d of %d ports",
			row.Role, row.Dials, row.Requests, row.Errors["port_exhaustion"], row.Sockets.Peak(func(s observe.Snapshot) int { return s.Client.TimeWait }), ppPorts))
	}
	return o, nil
}

// RunEnv names the scenarios a test binary built against another
// fasthttp release runs (comma-separated) when started by the version
// sweep; it prints one Result per line as JSON and exits.
const RunEnv = "POOLBENCH_SCENARIOS_RUN"

// RunChild does a child's job and exits when this process was started for
// one: a namespaced scenario row (by PortExhaustion.Run), printed as JSON,
// or the scenarios named in RunEnv (by the fasthttp version sweep). Test
// binaries call it from TestMain, poolbench from its scenarios command.
func RunChild() {
	if observe.InNetns() {
		if err := observe.LoUp(); err != nil {
			fmt.Fprintf(os.Stderr, "in a fresh network namespace: %v\n", err)
			os.Exit(1)
		}
	}
	if names := os.Getenv(RunEnv); names != "" {
		if code, ok := observe.Isolate(); ok {
			os.Exit(code)
		}
		os.Unsetenv(RunEnv)
		os.Exit(runNamed(names))
	}
	v := os.Getenv(ppEnv)
	if v == "" {
		return
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i >= len(ppRows) {
		fmt.Fprintf(os.Stderr, "%s=%q: want a row index below %d\n", ppEnv, v, len(ppRows))
		os.Exit(2)
	}
	row, err := ppRun(ppRows[i])
	if err != nil {
		fmt.Fprintf(os.Stderr, "port_exhaustion %s: %v\n", ppRows[i].role, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(row) //nolint:errcheck
	os.Exit(0)
}

// ppSetup prepares the fresh namespace: loopback up, the narrow port
// range, no TIME_WAIT reuse for outgoing connections.
func ppSetup() error {
	if err := observe.LoUp(); err != nil {
		return err
	}
	for f, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_local_port_range": fmt.Sprintf("%d %d", ppPortLo, ppPortLo+ppPorts-1),
		"/proc/sys/net/ipv4/tcp_tw_reuse":        "0",
	} {
		if err := os.WriteFile(f, []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ppRun measures one row inside the namespace.
func ppRun(r ppRow) (*Row, error) {
	if err := ppSetup(); err != nil {
		return nil, err
	}
	row := &Row{Role: r.role, Config: fmt.Sprintf("%s; %d callers, %d ports", r.desc, ppCallers, ppPorts),
		Client: ClientConfig{Client: "nethttp", MaxIdleConnsPerHost: r.perHost, ClientIdle: r.idleTimeout, Concurrency: ppCallers, DrainsBody: true, Idempotent: true}}
	// A millisecond of work keeps the callers' requests overlapping, so
	// more connections are out at once than the idle pool keeps.
	err := onFreshServer(func(ctx *fasthttp.RequestCtx) { time.Sleep(time.Millisecond); ctx.SetBodyString("ok") }, row, func(l *lab, t *tally) error {
		tr := transport(l.dial())
		if r.perHost > 0 {
			tr.MaxIdleConnsPerHost, tr.MaxIdleConns = r.perHost, r.perHost
		}
		tr.IdleConnTimeout = r.idleTimeout
		defer tr.CloseIdleConnections()
		m := netHTTPGetter{tr}
		per := ppPer
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		if r.perHost == 0 {
			per = ppMaxPer
		}
		err := hammer(ctx, ppCallers, per, t, func() (error, string) {
			err := m.get(l.url())
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				stop() // shown: the callers stop
			}
			return err, ""
		})
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	return row, err
}

// Diagnose implements Scenario: the churn that exhausts ports is the
// timewait_churn rule; this rule adds what runs out, at a rate worth
// naming (more callers than idle connections).
func (s PortExhaustion) Diagnose(c ClientConfig) []Exposure {
	per := c.idlePerHost()
	if c.fast() || per < 0 || c.Concurrency <= per {
		return nil
	}
	return expose(s, "MaxIdleConnsPerHost=%d < %d callers: each churned connection holds a local port in TIME_WAIT for 60 s; at a high request rate dials fail with EADDRNOTAVAIL; raise MaxIdleConnsPerHost to the callers (IdleConnTimeout does not help)", per, c.Concurrency)
}

// Check implements Scenario: before and with IdleConnTimeout alone, dials
// fail with EADDRNOTAVAIL while the client's TIME_WAIT sockets fill the
// port range; after, no error and about one dial per caller.
func (PortExhaustion) Check(o *Outcome) error {
	for _, role := range []string{"before", "also"} {
		r := o.Row(role)
		tw := r.Sockets.Peak(func(s observe.Snapshot) int { return s.Client.TimeWait })
		if r.Errors["port_exhaustion"] == 0 || tw < ppPorts/2 {
			return fmt.Errorf("%s: %d EADDRNOTAVAIL, client TIME_WAIT peak %d of %d ports (errors %v): want the ports used up", role, r.Errors["port_exhaustion"], tw, ppPorts, r.Errors)
		}
	}
	a := o.Row("after")
	if a.Failed() != 0 || a.Dials > 2*ppCallers {
		return fmt.Errorf("after: %d dials, errors %v: want no error and at most %d dials", a.Dials, a.Errors, 2*ppCallers)
	}
	return nil
}

// runNamed runs the named scenarios and prints their results as JSON
// lines: 0 if all reproduced, 1 if one did not. A name this build lacks (a
// scenario built out for an older fasthttp) is skipped with a note.
func runNamed(names string) int {
	code := 0
	for _, n := range strings.Split(names, ",") {
		s, err := Lookup(n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: not in this build (its fasthttp API is missing)\n", n)
			continue
		}
		r, err := Evaluate(context.Background(), s)
		if errors.Is(err, ErrNotAllowed) {
			fmt.Fprintf(os.Stderr, "%s skipped: %v\n", n, err)
			continue
		}
		if err != nil {
			r = &Result{Name: n, Verdict: "RUN FAILED: " + err.Error(), Failed: true}
		}
		if r.Failed {
			code = 1
		}
		json.NewEncoder(os.Stdout).Encode(r) //nolint:errcheck
	}
	return code
}
