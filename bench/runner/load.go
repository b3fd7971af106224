package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/internal/check"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/servers/control"
	"github.com/poolbench/poolbench/workloads"
)

// LoadConfig is one load process: a workload against a server's address.
type LoadConfig struct {
	// Workload is the workload, with its own settings.
	Workload workloads.Kind
	// Addr is the server's HTTP address; it must be on loopback.
	Addr string
	// Control is the server's control address; "" skips server snapshots.
	Control string
	// Route is the request to send.
	Route app.RouteSpec
	// Conns is the connection count (bursty: the cap on vegeta's workers).
	Conns int
	// Duration is the measured window and Warmup the unmeasured run before
	// it (closed-loop workloads).
	Duration, Warmup time.Duration
	// VegetaOut, if set, receives the bursty workload's raw results.
	VegetaOut string
	// ProfileDir, if set, receives the server's allocs.pb.gz (allocations
	// in the window) and cpu.pb.gz (started and stopped at the window's edges).
	ProfileDir string
	// ProfileKinds lists the profiles to collect: ProfileAllocs,
	// ProfileCPU, or both comma-separated ("" is both).
	ProfileKinds string
	// CPUs and GOMAXPROCS pin and size this process, as for ServeConfig.
	CPUs       string
	GOMAXPROCS int
	// AllowRemote lets Addr and Control be off loopback (load --allow-remote).
	AllowRemote bool
}

// CheckLoopback refuses any address outside 127.0.0.0/8 and ::1: poolbench
// loads only servers on this machine unless told otherwise (check.Address).
func CheckLoopback(addr string) error {
	_, err := check.Address("addr", addr, false)
	return err
}

// RunLoad runs one load process's work and reports it.
func RunLoad(ctx context.Context, c LoadConfig) (*LoadReport, error) {
	if !c.AllowRemote { // opt-in only: load --allow-remote
		if err := CheckLoopback(c.Addr); err != nil {
			return nil, err
		}
	}
	profAllocs, profCPU, err := parseProfileKinds(c.ProfileKinds)
	if err != nil {
		return nil, err
	}
	if err := CheckFDs(max(c.Conns, 1)); err != nil {
		return nil, err
	}
	rep := &LoadReport{Workload: c.Workload.Name(), Conns: c.Conns, LoadCPUs: "all"}
	if c.CPUs != "" {
		got, err := PinSelf(c.CPUs)
		if err != nil {
			return nil, err
		}
		rep.LoadCPUs = got
	}
	if c.GOMAXPROCS > 0 {
		runtime.GOMAXPROCS(c.GOMAXPROCS)
	}
	rep.LoadGOMAXPROCS = runtime.GOMAXPROCS(0)
	dial := func() (net.Conn, error) { return net.Dial("tcp", c.Addr) }
	plan := workloads.Plan{Conns: c.Conns, Duration: c.Duration, Request: bench.Request(c.Route), Latency: true, Dedicated: true}
	traits := c.Workload.Traits()
	if traits.Closed && c.Warmup > 0 {
		warm := plan
		warm.Duration, warm.Latency = c.Warmup, false
		res, err := c.Workload.Run(ctx, dial, warm)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		} else if res.OK == 0 {
			return nil, fmt.Errorf("warm-up: no request succeeded (%v; first: %v)", res.Errors, res.FirstError)
		}
		rep.WarmupOK, rep.WarmupNs = res.OK, int64(res.Elapsed) // reliability: the rate floor's yardstick
	}

	// Per-connection workloads measure the live heap, so both their
	// snapshots collect garbage first; the others only read counters.
	idle := traits.PerConn
	var snapErr error
	var prof *profiler
	if c.Control != "" {
		cl := &control.Client{Addr: c.Control}
		snap := func(dst **control.Stats, resetPeak bool) func() {
			return func() {
				s, err := cl.Stats(ctx, control.Options{GC: idle, ResetPeak: resetPeak})
				if err != nil && snapErr == nil {
					snapErr = err
				}
				*dst = &s
			}
		}
		plan.OnStart = snap(&rep.Before, true)
		plan.OnEnd = snap(&rep.After, false)
		if c.ProfileDir != "" {
			prof = newProfiler(cl, c.ProfileDir, profAllocs, profCPU)
			startStats, endStats := plan.OnStart, plan.OnEnd
			// The profile snapshots sit outside the stats window, so the
			// control endpoint's work writing them is not in allocs/op.
			plan.OnStart = func() { prof.begin(ctx); startStats() }
			plan.OnEnd = func() { endStats(); prof.end(ctx) }
		}
	} else if c.ProfileDir != "" {
		return nil, fmt.Errorf("profiles come from the server's control port: give -control with -profile-dir")
	}
	if c.VegetaOut != "" {
		f, err := os.Create(c.VegetaOut)
		if err != nil {
			return nil, fmt.Errorf("vegeta results: %w", err)
		}
		defer f.Close()
		plan.Record = f
	}
	windowErr := measureWindow(&plan, rep) // the load's own costs and TCP counters: costs.go
	res, err := c.Workload.Run(ctx, dial, plan)
	if err != nil {
		return nil, err
	}
	if err := windowErr(); err != nil {
		return nil, err
	}
	if snapErr != nil {
		return nil, snapErr
	}
	if prof != nil && prof.err != nil {
		return nil, prof.err
	}
	rep.OK, rep.Errors, rep.Dials, rep.ElapsedNs, rep.Kinds = res.OK, res.Errors, res.Dials, int64(res.Elapsed), res.Kinds
	if res.FirstError != nil {
		rep.FirstError = res.FirstError.Error()
	}
	if h := res.Latency; h != nil && h.TotalCount() > 0 {
		rep.P50Ns, rep.P99Ns, rep.P999Ns = h.ValueAtQuantile(50), h.ValueAtQuantile(99), h.ValueAtQuantile(99.9)
		rep.Latency = h.Export() // multi-host: merged by package merge
	}
	port, err := portOf(c.Addr)
	if err != nil {
		return nil, err
	}
	if rep.TimeWait, err = workloads.CountTimeWait(port); err != nil {
		return nil, err
	}
	return rep, nil
}
