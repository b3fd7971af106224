// Package runner is poolbench's real-socket layer: every cell runs the server
// (`poolbench serve`) and the load (`poolbench load`) as separate processes,
// pinned to disjoint CPUs with explicit GOMAXPROCS, and reads the server's CPU
// time, allocations and memory from the server process itself. Results are
// Go benchmark lines, appended to results/<run>/bench.txt.
package runner

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/poolbench/poolbench/servers/control"
	"github.com/poolbench/poolbench/workloads"
)

// Report is what one `poolbench load` run prints with --json.
type Report struct {
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
	// WarmupOK and WarmupNs are the warm-up's correct responses and length
	// (closed loop), the yardstick of the window's rate floor.
	WarmupOK int64 `json:"warmup_ok,omitempty"`
	WarmupNs int64 `json:"warmup_ns,omitempty"`
}

// Elapsed is the measured window.
func (r *Report) Elapsed() time.Duration { return time.Duration(r.ElapsedNs) }

// Metric is one value-unit pair of a benchmark line.
type Metric struct {
	Value float64
	Unit  string
}

// Units declares the direction of every custom unit, for benchstat.
var Units = []string{
	"Unit req/s better=higher",
	"Unit connects/s better=higher",
	"Unit p50-ns better=lower",
	"Unit p99-ns better=lower",
	"Unit p999-ns better=lower",
	"Unit cpu-ns/op better=lower",
	"Unit peak-RSS-bytes better=lower",
	"Unit errors better=lower",
	"Unit timewait-socks better=lower",
	"Unit dials/1k-req better=lower",
	"Unit rss-bytes/conn better=lower",
	"Unit heap-bytes/conn better=lower",
	"Unit goroutines/conn better=lower",
}

// Metrics turns a report into a benchmark line's iterations and metrics.
// Iterations are requests; for the idle workload, connections.
func (r *Report) Metrics() (int64, []Metric, error) {
	if r.Before == nil || r.After == nil {
		return 0, nil, fmt.Errorf("%s: no server snapshots in the report", r.Workload)
	}
	b, a := r.Before, r.After
	errs := float64(r.Errors.Total())
	if r.Workload == "idle" {
		n := float64(r.Conns)
		return int64(r.Conns), []Metric{
			{(float64(a.RSSBytes) - float64(b.RSSBytes)) / n, "rss-bytes/conn"},
			{(float64(a.HeapBytes) - float64(b.HeapBytes)) / n, "heap-bytes/conn"},
			{float64(a.Goroutines-b.Goroutines) / n, "goroutines/conn"},
			{float64(a.PeakRSSBytes), "peak-RSS-bytes"},
			{errs, "errors"},
		}, nil
	}
	if r.OK == 0 {
		return 0, nil, fmt.Errorf("%s: no request succeeded (errors: %v; first: %s)", r.Workload, r.Errors, r.FirstError)
	}
	n := float64(r.OK)
	sec := r.Elapsed().Seconds()
	ms := []Metric{
		{float64(r.ElapsedNs) / n, "ns/op"},
		{n / sec, "req/s"},
		{float64(r.P50Ns), "p50-ns"},
		{float64(r.P99Ns), "p99-ns"},
		{float64(r.P999Ns), "p999-ns"},
		{float64(a.CPUNanos-b.CPUNanos) / n, "cpu-ns/op"},
		{float64(a.AllocBytes-b.AllocBytes) / n, "B/op"},
		{float64(a.AllocObjects-b.AllocObjects) / n, "allocs/op"},
		{float64(a.PeakRSSBytes), "peak-RSS-bytes"},
		{errs, "errors"},
	}
	switch r.Workload {
	case "shortlived", "bursty":
		ms = append(ms, Metric{float64(r.Dials) / sec, "connects/s"}, Metric{float64(r.TimeWait), "timewait-socks"})
	case "client":
		ms = append(ms, Metric{1000 * float64(r.Dials) / n, "dials/1k-req"}, Metric{float64(r.TimeWait), "timewait-socks"})
	}
	return int64(r.OK), ms, nil
}

// WriteLine writes one Go benchmark line for the cell.
func WriteLine(w io.Writer, name string, iters int64, ms []Metric) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Benchmark%s\t%d", name, iters)
	for _, m := range ms {
		fmt.Fprintf(&sb, "\t%s %s", formatValue(m.Value), m.Unit)
	}
	sb.WriteByte('\n')
	_, err := io.WriteString(w, sb.String())
	return err
}

func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
