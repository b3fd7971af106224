package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/servers/app"
)

func loadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench load -addr host:port [flags]\n\nDrives one workload against a server on loopback and reports requests, errors,\nlatency percentiles and, given -control, the server's own CPU, allocations and memory.\n\nflags:")
		fs.PrintDefaults()
	}
	kinds := runner.Loads()
	workload := fs.String("workload", kinds.Names()[0], "workload: "+strings.Join(kinds.Names(), ", "))
	route := fs.String("route", "app", "route: "+strings.Join(app.Routes.Names(), ", "))
	c := runner.LoadConfig{}
	fs.StringVar(&c.Addr, "addr", "", "server address (loopback only)")
	fs.StringVar(&c.Control, "control", "", "server control address, to read its stats (optional)")
	fs.IntVar(&c.Conns, "conns", 64, "connections (keepalive, shortlived, idle); bursty: cap on concurrent requests")
	fs.DurationVar(&c.Duration, "duration", 2*time.Second, "measured window (keepalive, shortlived)")
	fs.DurationVar(&c.Warmup, "warmup", 500*time.Millisecond, "unmeasured run before the window (keepalive, shortlived)")
	for _, k := range kinds.All() {
		k.Flags(fs)
	}
	fs.StringVar(&c.VegetaOut, "vegeta-out", "", "workloads that record (bursty): write raw results here in vegeta's format (go tool vegeta report)")
	fs.StringVar(&c.ProfileDir, "profile-dir", "", "write the server's allocs.pb.gz (allocations in the window) and cpu.pb.gz here (needs -control)")
	fs.StringVar(&c.ProfileKinds, "profile-kinds", "allocs,cpu", "with -profile-dir: allocs, cpu or allocs,cpu (take cpu with the server at the default -memprofilerate)")
	fs.StringVar(&c.CPUs, "cpus", "", "pin every thread to these CPUs, e.g. 0 (default: not pinned)")
	fs.IntVar(&c.GOMAXPROCS, "gomaxprocs", 0, "GOMAXPROCS (default: the runtime's)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	allowRemote := fs.Bool("allow-remote", false, "allow non-loopback -addr and -control (load beyond this machine)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Addr == "" {
		return usagef("-addr is required: the address of a server, e.g. 127.0.0.1:8080 from poolbench serve")
	}
	var err error
	if c.Workload, err = kinds.Lookup(*workload); err != nil {
		return asUsage(err)
	}
	if err := c.Workload.Validate(); err != nil {
		return asUsage(err)
	}
	if c.Route, err = app.Routes.Lookup(*route); err != nil {
		return asUsage(err)
	}
	// reliability: load-level flags checked before anything runs (validate.go).
	if err := validateLoad(&c, *allowRemote); err != nil {
		return err
	}
	rep, err := runner.RunLoad(ctx, c)
	if ctx.Err() != nil {
		// Interrupted: the window was cut short, so its numbers are not a result.
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(rep)
	}
	fmt.Printf("%s conns=%d: %d ok, errors %v, %d dials in %v (%.0f req/s); p50 %v p99 %v p99.9 %v; TIME_WAIT %d\n",
		rep.Workload, rep.Conns, rep.OK, rep.Errors, rep.Dials, rep.Elapsed().Round(time.Millisecond),
		float64(rep.OK)/rep.Elapsed().Seconds(), time.Duration(rep.P50Ns), time.Duration(rep.P99Ns), time.Duration(rep.P999Ns), rep.TimeWait)
	if rep.Before != nil && rep.After != nil {
		if iters, ms, err := rep.Metrics(c.Workload.Traits()); err == nil {
			fmt.Printf("server:")
			for _, m := range ms {
				fmt.Printf(" %.4g %s", m.Value, m.Unit)
			}
			fmt.Printf(" (%d iterations)\n", iters)
		}
	}
	return nil
}
