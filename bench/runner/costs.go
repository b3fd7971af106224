package runner

import (
	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/bench/sysstat"
	"github.com/poolbench/poolbench/servers/control"
	"github.com/poolbench/poolbench/workloads"
)

// Costs per request (issue 13): where a cell's time goes, split by process
// and by kind, so the report can say why one model is faster. The server's
// side comes from its control snapshots (LoadReport.Before and After); the
// load's side and the kernel's TCP counters are read by the load process
// around its own window (measureWindow) and carried in LoadReport.LoadProc
// and LoadReport.TCP.

// measureWindow wraps plan's window edges so the load process reads its own
// counters (user and system CPU, context switches, system calls) and the
// TCP stack's at both ends, into rep. The returned func reports the first
// read error, after the run.
func measureWindow(plan *workloads.Plan, rep *LoadReport) func() error {
	var p0 sysstat.Proc
	var t0 sysstat.TCP
	var s0 control.Stats
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	start, end := plan.OnStart, plan.OnEnd
	plan.OnStart = func() {
		if start != nil {
			start()
		}
		var e error
		t0, e = sysstat.ReadTCP()
		keep(e)
		p0, e = sysstat.ReadProc("self")
		keep(e)
		s0, e = control.Take(control.Options{}, nil)
		keep(e)
	}
	plan.OnEnd = func() {
		p1, e := sysstat.ReadProc("self")
		keep(e)
		t1, e2 := sysstat.ReadTCP()
		keep(e2)
		s1, e3 := control.Take(control.Options{}, nil)
		keep(e3)
		if e == nil && e2 == nil && e3 == nil {
			lp, tcp := p1.Sub(p0), t1.Sub(t0)
			sched := control.SchedLatencyQuantile(s0, s1, 0.99).Nanoseconds()
			rep.LoadProc, rep.TCP, rep.LoadSchedP99Ns = &lp, &tcp, &sched
		}
		if end != nil {
			end()
		}
	}
	return func() error { return err }
}

// costMetrics are the per-request costs of a report with n correct
// responses: the server's (from its snapshots), the load's and the TCP
// counters' where the report has them. Units are declared in
// results.CostUnits.
func (r *LoadReport) costMetrics(n float64) []results.Metric {
	b, a := r.Before, r.After
	sp := a.Proc.Sub(b.Proc)
	ms := []results.Metric{
		{Value: float64(sp.UserNanos) / n, Unit: "user-ns/op"},
		{Value: float64(sp.SysNanos) / n, Unit: "sys-ns/op"},
		{Value: float64(sp.Voluntary) / n, Unit: "vcsw/op"},
		{Value: float64(sp.Involuntary) / n, Unit: "ivcsw/op"},
		{Value: float64(sp.ReadCalls) / n, Unit: "syscr/op"},
		{Value: float64(sp.WriteCalls) / n, Unit: "syscw/op"},
		{Value: float64(sp.ReadBytes) / n, Unit: "in-B/op"},
		{Value: float64(sp.WriteBytes) / n, Unit: "out-B/op"},
		{Value: float64(a.GCCPUNanos-b.GCCPUNanos) / n, Unit: "gc-cpu-ns/op"},
		{Value: float64(a.GoroutinesCreated-b.GoroutinesCreated) / n, Unit: "goroutines/op"},
		{Value: float64(control.SchedLatencyQuantile(*b, *a, 0.99).Nanoseconds()), Unit: "sched-p99-ns"},
	}
	if lp := r.LoadProc; lp != nil {
		ms = append(ms,
			results.Metric{Value: float64(lp.UserNanos) / n, Unit: "load-user-ns/op"},
			results.Metric{Value: float64(lp.SysNanos) / n, Unit: "load-sys-ns/op"},
			results.Metric{Value: float64(lp.Voluntary) / n, Unit: "load-vcsw/op"},
			results.Metric{Value: float64(lp.Involuntary) / n, Unit: "load-ivcsw/op"},
			results.Metric{Value: float64(lp.ReadCalls) / n, Unit: "load-syscr/op"},
			results.Metric{Value: float64(lp.WriteCalls) / n, Unit: "load-syscw/op"},
		)
	}
	if ls := r.LoadSchedP99Ns; ls != nil {
		ms = append(ms, results.Metric{Value: float64(*ls), Unit: "load-sched-p99-ns"})
	}
	if t := r.TCP; t != nil {
		ms = append(ms,
			results.Metric{Value: float64(t.ListenOverflows), Unit: "listen-overflows"},
			results.Metric{Value: float64(t.ListenDrops), Unit: "listen-drops"},
			results.Metric{Value: float64(t.SynRetrans), Unit: "syn-retrans"},
			results.Metric{Value: float64(t.RetransSegs), Unit: "retrans-segs"},
			results.Metric{Value: float64(t.OutRsts), Unit: "out-rsts"},
		)
	}
	return ms
}
