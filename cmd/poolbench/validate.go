package main

import (
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/internal/check"
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
// The workload's own settings are its Validate's.
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
	minConns := 0 // an open loop opens what it needs
	if c.Workload.Traits().Closed {
		minConns = 1
		if err := check.Positive("duration", c.Duration); err != nil {
			return asUsage(err)
		}
	}
	if err := firstUsage(
		check.IntRange("conns", c.Conns, minConns, check.MaxConns, "connections"),
		check.NonNegative("warmup", c.Warmup),
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

// runChecks are run's flags beyond the matrix spec.
type runChecks struct {
	count       int
	allowShared bool
}

// validateRun checks run's flags: counts, durations, CPUs (existing, not
// shared between server and load unless allowed) and lists without
// duplicates. The workloads' settings and sweeps are their Validate's.
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
	for _, l := range []struct{ flag, v string }{{"models", spec.Models}, {"loads", spec.Loads}, {"routes", spec.Routes}} {
		if err := check.Distinct(l.flag, l.v); err != nil {
			return asUsage(err)
		}
	}
	if strings.Contains(spec.Variants, ";") {
		if err := check.Distinct("variants", strings.ReplaceAll(spec.Variants, ";", ",")); err != nil {
			return asUsage(err)
		}
	}
	return nil
}

// validateCells checks the expanded matrix: no cell twice (a value repeated
// in a sweep), and the largest connection count within the fd limit.
func validateCells(cells []runner.Cell) error {
	seen := map[string]bool{}
	need := 0
	for _, c := range cells {
		if seen[c.Name()] {
			return usagef("cell %s comes twice: a value is repeated in a list or sweep flag", c.Name())
		}
		seen[c.Name()] = true
		need = max(need, c.Conns)
	}
	if need > check.MaxConns {
		return usagef("a sweep asks for %d connections: want at most %d", need, check.MaxConns)
	}
	if err := runner.CheckFDs(need); err != nil {
		return usagef("connection sweeps up to %d: %v", need, err)
	}
	return nil
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
