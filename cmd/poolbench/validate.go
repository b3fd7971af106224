package main

import (
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/internal/check"
	"github.com/poolbench/poolbench/workloads"
)

// Every check here runs before a command starts anything or writes a file;
// each failure is a usageError (exit 2) naming the flag and the fix.

// validateServe checks serve's run-level flags and normalizes its addresses.
func validateServe(c *runner.ServeConfig, allowRemote bool) error {
	var err error
	if c.Addr, err = check.Address("addr", c.Addr, allowRemote); err != nil {
		return asUsage(err)
	}
	if c.Control, err = check.Address("control", c.Control, false); err != nil {
		return asUsage(fmt.Errorf("%w (the control port serves profiles: it never leaves loopback)", err))
	}
	if _, err := check.CPUList("cpus", c.CPUs); err != nil {
		return asUsage(err)
	}
	k := c.Knobs
	return firstUsage(
		check.GOMAXPROCS("gomaxprocs", c.GOMAXPROCS),
		check.IntRange("memprofilerate", c.MemProfileRate, -1, 1<<30, "a sampling rate in bytes (-1: the runtime's, 0: off, 1: every allocation)"),
		check.NonNegative("idle-timeout", k.IdleTimeout),
		check.NonNegative("read-timeout", k.ReadTimeout),
		check.NonNegative("write-timeout", k.WriteTimeout),
		check.NonNegative("max-idle-worker-duration", k.MaxIdleWorkerDuration),
		check.NonNegative("read-header-timeout", k.ReadHeaderTimeout),
		check.IntRange("concurrency", k.Concurrency, 0, check.MaxConns, "connections (0: 256k)"),
		check.IntRange("max-header-bytes", k.MaxHeaderBytes, 0, 1<<30, "bytes (0: 1 MiB)"),
	)
}

// validateLoad checks load's run-level flags and normalizes its addresses
// (a URL such as http://127.0.0.1:8080, as serve prints it, is accepted).
func validateLoad(c *runner.LoadConfig, allowRemote bool) error {
	var err error
	if c.Addr, err = check.Address("addr", c.Addr, allowRemote); err != nil {
		return asUsage(err)
	}
	if c.Control != "" {
		if c.Control, err = check.Address("control", c.Control, allowRemote); err != nil {
			return asUsage(err)
		}
	}
	c.AllowRemote = allowRemote
	if _, err := check.CPUList("cpus", c.CPUs); err != nil {
		return asUsage(err)
	}
	minConns := 1
	if c.Workload.Name() == "bursty" {
		minConns = 0 // vegeta opens what it needs
	} else if err := check.Positive("duration", c.Duration); err != nil {
		return asUsage(err)
	}
	if err := firstUsage(
		check.IntRange("conns", c.Conns, minConns, check.MaxConns, "connections"),
		check.NonNegative("warmup", c.Warmup),
		check.NonNegative("profile-window", c.ProfileWindow),
		check.GOMAXPROCS("gomaxprocs", c.GOMAXPROCS),
	); err != nil {
		return err
	}
	if c.ProfileDir != "" && c.Control == "" {
		return usagef("-profile-dir %q: profiles come from the server's control port: give -control too", c.ProfileDir)
	}
	if err := runner.CheckFDs(max(c.Conns, 1)); err != nil {
		return usagef("-conns %d: %v", c.Conns, err)
	}
	return nil
}

// validateBursty checks the open-loop wave against what the pacer can serve.
func validateBursty(b workloads.Bursty) error {
	if err := firstUsage(
		check.IntRange("rate", b.Wave.PerSecond, 1, check.MaxRate, "requests per second"),
		check.Positive("on", b.Wave.On),
		check.NonNegative("off", b.Wave.Off),
		check.IntRange("bursts", b.Bursts, 1, 10_000, "bursts"),
		check.NonNegative("client-idle", b.ClientIdle),
	); err != nil {
		return err
	}
	return asUsage(b.Validate())
}

// runChecks are run's flags beyond the matrix spec.
type runChecks struct {
	count       int
	allowShared bool
}

// validateRun checks run's flags: counts, durations, CPUs (existing, not
// shared between server and load unless allowed), lists without
// duplicates, and the largest connection count against the fd limit.
func validateRun(spec runner.MatrixSpec, s runner.Settings, rc runChecks) error {
	if err := firstUsage(
		check.IntRange("count", rc.count, 1, 10_000, "runs of each cell"),
		check.Positive("duration", s.Duration),
		check.NonNegative("warmup", s.Warmup),
		check.NonNegative("max-idle-worker-duration", s.MaxIdleWorkerDuration),
		check.GOMAXPROCS("server-gomaxprocs", s.ServerProcs),
		check.GOMAXPROCS("load-gomaxprocs", s.LoadProcs),
	); err != nil {
		return err
	}
	srv, err := check.CPUList("server-cpus", s.ServerCPUs)
	if err != nil {
		return asUsage(err)
	}
	ld, err := check.CPUList("load-cpus", s.LoadCPUs)
	if err != nil {
		return asUsage(err)
	}
	if !rc.allowShared {
		if err := check.Disjoint("server-cpus", srv, "load-cpus", ld, "allow-shared-cpus"); err != nil {
			return asUsage(err)
		}
	}
	lists := []struct{ flag, v string }{
		{"models", spec.Models}, {"loads", spec.Loads}, {"routes", spec.Routes}, {"clients", spec.Clients},
		{"keepalive-conns", spec.KeepaliveConns}, {"shortlived-conns", spec.ShortConns},
		{"idle-conns", spec.IdleConns}, {"client-conns", spec.ClientConns}, {"gaps", spec.Gaps},
	}
	for _, l := range lists {
		if err := check.Distinct(l.flag, l.v); err != nil {
			return asUsage(err)
		}
	}
	if strings.Contains(spec.Variants, ";") {
		if err := check.Distinct("variants", strings.ReplaceAll(spec.Variants, ";", ",")); err != nil {
			return asUsage(err)
		}
	}
	need := 0
	for _, l := range lists[4:8] {
		ns, err := bench.ParseSweep(l.flag, l.v)
		if err != nil {
			return usagef("-%s %q: want connection counts ≥ 1, e.g. 1,16,256", l.flag, l.v)
		}
		for _, n := range ns {
			if n > check.MaxConns {
				return usagef("-%s %q: want connection counts from 1 to %d", l.flag, l.v, check.MaxConns)
			}
			need = max(need, n)
		}
	}
	if err := runner.CheckFDs(need); err != nil {
		return usagef("connection sweeps up to %d: %v", need, err)
	}
	b := spec.Bursty
	return validateBursty(b)
}

// firstUsage returns the first non-nil error as a usageError.
func firstUsage(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return asUsage(err)
		}
	}
	return nil
}
