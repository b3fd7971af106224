// Package runner is poolbench's real-socket layer: every cell runs the server
// (`poolbench serve`) and the load (`poolbench load`) as separate processes,
// pinned to disjoint CPUs with explicit GOMAXPROCS, and reads the server's CPU
// time, allocations and memory from the server process itself. Results are
// Go benchmark lines (package results), appended to results/<run>/bench.txt.
package runner

import (
	"fmt"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/bench/sysstat"
	"github.com/poolbench/poolbench/servers/control"
	"github.com/poolbench/poolbench/workloads"
)

// LoadReport is the load process's measurement of one cell: what one
// `poolbench load` run prints with --json.
type LoadReport struct {
	Workload string `json:"workload"`
	Conns    int    `json:"conns"`
	// OK counts correct responses in the measured window.
	OK         int64            `json:"ok"`
	Errors     workloads.Errors `json:"errors"`
	FirstError string           `json:"first_error,omitempty"`
	Dials      int64            `json:"dials"`
	ElapsedNs  int64            `json:"elapsed_ns"`
	P50Ns      int64            `json:"p50_ns"`
	P99Ns      int64            `json:"p99_ns"`
	P999Ns     int64            `json:"p999_ns"`
	// Latency is the window's latency histogram (hdrhistogram's Export),
	// so several load hosts' results merge exactly (package merge).
	Latency *hdrhistogram.Snapshot `json:"latency,omitempty"`
	// Kinds counts a client model's errors by kind (load=client).
	Kinds map[string]int64 `json:"kinds,omitempty"`
	// TimeWait counts TIME_WAIT sockets to or from the server's port after the window.
	TimeWait int `json:"timewait"`
	// Before and After are the server's snapshots at the window's edges
	// (nil without a control address).
	Before *control.Stats `json:"before,omitempty"`
	After  *control.Stats `json:"after,omitempty"`
	// LoadCPUs and LoadGOMAXPROCS say how the load process ran.
	LoadCPUs       string `json:"load_cpus"`
	LoadGOMAXPROCS int    `json:"load_gomaxprocs"`
	// LoadProc is the load process's own counters over the window and TCP
	// the kernel's TCP counters over it (costs.go; nil when not read).
	LoadProc *sysstat.Proc `json:"load_proc,omitempty"`
	TCP      *sysstat.TCP  `json:"tcp,omitempty"`
	// LoadSchedP99Ns is the 99th percentile of the time the load's own
	// goroutines waited runnable in the window (runtime/metrics
	// /sched/latencies), nil for an outside tool.
	LoadSchedP99Ns *int64 `json:"load_sched_p99_ns,omitempty"`
	// Unmeasured lists units the load could not measure, left off the
	// line (loadtool.go), e.g. p999-ns for wrk.
	Unmeasured []string `json:"unmeasured,omitempty"`
	// WarmupOK and WarmupNs are the warm-up's correct responses and length
	// (closed loop), the yardstick of the window's rate floor.
	WarmupOK int64 `json:"warmup_ok,omitempty"`
	WarmupNs int64 `json:"warmup_ns,omitempty"`
	// loadUsage is the exited load process's rusage, set by the runner.
	loadUsage *syscall.Rusage
}

// Elapsed is the measured window.
func (r *LoadReport) Elapsed() time.Duration { return time.Duration(r.ElapsedNs) }

// extras are the units a workload may add to its lines (Traits.Units),
// computed from the report given n correct responses over sec seconds.
var extras = map[string]func(r *LoadReport, n, sec float64) float64{
	"connects/s":     func(r *LoadReport, _, sec float64) float64 { return float64(r.Dials) / sec },
	"timewait-socks": func(r *LoadReport, _, _ float64) float64 { return float64(r.TimeWait) },
	"dials/1k-req":   func(r *LoadReport, n, _ float64) float64 { return 1000 * float64(r.Dials) / n },
}

// Metrics turns a report of workload t into a benchmark line's iterations
// and metrics. Iterations are requests; for PerConn workloads, connections.
func (r *LoadReport) Metrics(t workloads.Traits) (int64, []results.Metric, error) {
	if r.Before == nil || r.After == nil {
		return 0, nil, fmt.Errorf("%s: no server snapshots in the report", r.Workload)
	}
	b, a := r.Before, r.After
	errs := float64(r.Errors.Total())
	if t.PerConn {
		n := float64(r.Conns)
		return int64(r.Conns), []results.Metric{
			{Value: (float64(a.RSSBytes) - float64(b.RSSBytes)) / n, Unit: "rss-bytes/conn"},
			{Value: (float64(a.HeapBytes) - float64(b.HeapBytes)) / n, Unit: "heap-bytes/conn"},
			{Value: float64(a.Goroutines-b.Goroutines) / n, Unit: "goroutines/conn"},
			{Value: float64(a.PeakRSSBytes), Unit: "peak-RSS-bytes"},
			{Value: errs, Unit: "errors"},
		}, nil
	}
	if r.OK == 0 {
		return 0, nil, fmt.Errorf("%s: no request succeeded (errors: %v; first: %s)", r.Workload, r.Errors, r.FirstError)
	}
	n := float64(r.OK)
	sec := r.Elapsed().Seconds()
	ms := []results.Metric{
		{Value: float64(r.ElapsedNs) / n, Unit: "ns/op"},
		{Value: n / sec, Unit: "req/s"},
		{Value: float64(r.P50Ns), Unit: "p50-ns"},
		{Value: float64(r.P99Ns), Unit: "p99-ns"},
		{Value: float64(r.P999Ns), Unit: "p999-ns"},
		{Value: float64(a.CPUNanos-b.CPUNanos) / n, Unit: "cpu-ns/op"},
		{Value: float64(a.AllocBytes-b.AllocBytes) / n, Unit: "B/op"},
		{Value: float64(a.AllocObjects-b.AllocObjects) / n, Unit: "allocs/op"},
		{Value: float64(a.PeakRSSBytes), Unit: "peak-RSS-bytes"},
		{Value: errs, Unit: "errors"},
	}
	ms = append(ms, r.costMetrics(n)...) // per-request costs: costs.go
	for _, u := range t.Units {
		f, ok := extras[u]
		if !ok {
			return 0, nil, fmt.Errorf("%s: unknown extra unit %q: want one of connects/s, timewait-socks, dials/1k-req", r.Workload, u)
		}
		ms = append(ms, results.Metric{Value: f(r, n, sec), Unit: u})
	}
	return int64(r.OK), r.dropUnmeasured(ms), nil
}
