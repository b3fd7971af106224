package runner

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/poolbench/poolbench/bench/sysstat"
	"github.com/poolbench/poolbench/servers/control"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/wrk"
)

// Wrk drives keep-alive cells with wrk (workloads/wrk): one thread, the
// cell's connections, pinned to the load's CPUs like the driver. Its lines
// carry client=wrk and the same units as the driver's, except p999-ns
// (wrk reports up to p99); the load-* costs are wrk's own process.
type Wrk struct{}

var _ LoadTool = Wrk{}

// Name implements LoadTool.
func (Wrk) Name() string { return "wrk" }

// Drives implements LoadTool: wrk keeps its connections open and sends
// back to back, which is a closed loop that never closes a connection.
func (Wrk) Drives(k workloads.Kind) bool {
	t := k.Traits()
	return t.Closed && t.RequestsPerConn == 0 && !t.PerConn && !t.FixedServer
}

// Available implements LoadTool.
func (Wrk) Available() error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (Debian: apt-get install wrk)")
	}
	return nil
}

// wrkWindow is wrk's -d for a closed-loop window d: whole seconds, at least one.
func wrkWindow(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// Load implements LoadTool: a warm-up run of one second (when s has a
// warm-up), then the measured run between the server's two snapshots and
// two reads of the TCP counters. wrk does not count the requests in flight
// when its window ends, so the server may have served up to one more per
// connection than wrk counted; more than that is an error.
func (w Wrk) Load(ctx context.Context, c Cell, s Settings, srv Ready) (*LoadReport, error) {
	cfg := wrk.Config{URL: "http://" + srv.Addr + c.Route.Target, Conns: c.Conns, Duration: wrkWindow(s.Duration)}
	rep := &LoadReport{Workload: c.Load.Name(), Conns: c.Conns, LoadCPUs: "all", LoadGOMAXPROCS: 1, // wrk -t1: one load thread
		Unmeasured: []string{"p999-ns"}}
	if s.LoadCPUs != "" {
		cpus, err := ParseCPUList(s.LoadCPUs)
		if err != nil {
			return nil, err
		}
		cfg.CPUs, rep.LoadCPUs = cpus, s.LoadCPUs
	}
	var warmCost sysstat.Proc
	if s.Warmup > 0 {
		warm := cfg
		warm.Duration = time.Second
		var err error
		if _, warmCost, err = wrk.Run(ctx, warm); err != nil {
			return nil, fmt.Errorf("wrk warm-up: %w", err)
		}
	}
	cl := &control.Client{Addr: srv.Control}
	before, err := cl.Stats(ctx, control.Options{ResetPeak: true})
	if err != nil {
		return nil, err
	}
	t0, err := sysstat.ReadTCP()
	if err != nil {
		return nil, err
	}
	res, cost, err := wrk.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t1, err := sysstat.ReadTCP()
	if err != nil {
		return nil, err
	}
	after, err := cl.Stats(ctx, control.Options{})
	if err != nil {
		return nil, err
	}
	tcp := t1.Sub(t0)
	rep.Before, rep.After, rep.LoadProc, rep.TCP = &before, &after, &cost, &tcp
	// noise: the load's own CPU over the whole cell, warm-up run included,
	// as the driver's rusage is (noise.go subtracts it from its CPUs' time).
	rep.loadUsage = &syscall.Rusage{Utime: syscall.NsecToTimeval(warmCost.UserNanos + cost.UserNanos),
		Stime: syscall.NsecToTimeval(warmCost.SysNanos + cost.SysNanos), Nivcsw: warmCost.Involuntary + cost.Involuntary}
	rep.OK, rep.ElapsedNs = res.Requests, int64(res.Duration)
	rep.P50Ns, rep.P99Ns = int64(res.P50), int64(res.P99)
	served := int64(after.Served - before.Served)
	if served < rep.OK || served > rep.OK+int64(c.Conns) {
		return nil, fmt.Errorf("wrk counted %d responses but the server served %d requests in the window (want %d to %d)", rep.OK, served, rep.OK, rep.OK+int64(c.Conns))
	}
	return rep, nil
}
