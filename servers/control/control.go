// Package control is the loopback control endpoint of a server process
// started by `poolbench serve`: GET /stats reports the process's own CPU
// time, allocations, heap, RSS, goroutines, GC CPU, scheduling latency and
// the kernel's counters (context switches, system calls), and /debug/pprof/ serves its
// profiles, so every number and profile comes from the server alone.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/metrics"
	rpprof "runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/poolbench/poolbench/bench/sysstat"
)

// Stats is one snapshot of the server process. Counters are cumulative:
// subtract two snapshots to get a window.
type Stats struct {
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// CPUNanos is user plus system CPU time of the process (getrusage).
	CPUNanos int64 `json:"cpu_ns"`
	// AllocObjects and AllocBytes count heap allocations since start (runtime/metrics).
	AllocObjects uint64 `json:"alloc_objects"`
	AllocBytes   uint64 `json:"alloc_bytes"`
	// HeapBytes is the heap in use by objects; live after a forced GC (gc=1).
	HeapBytes uint64 `json:"heap_bytes"`
	// RSSBytes and PeakRSSBytes are VmRSS and VmHWM from /proc/self/status.
	RSSBytes     uint64 `json:"rss_bytes"`
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// Goroutines is the number of live goroutines.
	Goroutines int `json:"goroutines"`
	// GCCycles counts the GC cycles the runtime started on its own since
	// start (runtime/metrics /gc/cycles/automatic:gc-cycles): the forced
	// ones (gc=1, the idle workload's heap readings) are left out.
	GCCycles uint64 `json:"gc_cycles"`
	// Served counts requests the app has served.
	Served uint64 `json:"served"`
	// GOMAXPROCS and CPUs say how the process was set up and pinned.
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUs       string `json:"cpus"`

	// GCCPUNanos is the runtime's estimate of CPU time spent in the garbage
	// collector (/cpu/classes/gc/total:cpu-seconds); compare it with
	// CPUNanos only as a share.
	GCCPUNanos int64 `json:"gc_cpu_ns"`
	// GoroutinesCreated counts goroutines started since the process began
	// (/sched/goroutines-created:goroutines).
	GoroutinesCreated uint64 `json:"goroutines_created"`
	// SchedLatency is how long goroutines waited runnable before running
	// (/sched/latencies:seconds), cumulative: see SchedLatencyQuantile.
	SchedLatency Histogram `json:"sched_latency"`
	// Proc is the kernel's view of the process: user and system CPU,
	// voluntary and involuntary context switches, read and write system
	// calls and the bytes they moved.
	Proc sysstat.Proc `json:"proc"`
}

// Histogram is a cumulative runtime/metrics histogram with its empty
// buckets left out: Counts[i] samples fell at or below Upper[i] seconds and
// above the previous bucket's bound.
type Histogram struct {
	Upper  []float64 `json:"upper_s,omitempty"`
	Counts []uint64  `json:"counts,omitempty"`
}

func histogram(h *metrics.Float64Histogram) Histogram {
	var out Histogram
	for i, n := range h.Counts {
		if n > 0 {
			out.Upper = append(out.Upper, h.Buckets[i+1])
			out.Counts = append(out.Counts, n)
		}
	}
	return out
}

// Total is the number of samples.
func (h Histogram) Total() uint64 {
	var t uint64
	for _, n := range h.Counts {
		t += n
	}
	return t
}

// Sub returns the samples of h not in the earlier snapshot before.
func (h Histogram) Sub(before Histogram) Histogram {
	prev := make(map[float64]uint64, len(before.Upper))
	for i, u := range before.Upper {
		prev[u] = before.Counts[i]
	}
	var out Histogram
	for i, u := range h.Upper {
		if n := h.Counts[i] - min(prev[u], h.Counts[i]); n > 0 {
			out.Upper = append(out.Upper, u)
			out.Counts = append(out.Counts, n)
		}
	}
	return out
}

// Quantile returns the upper bound of the bucket holding quantile q (0 < q ≤ 1)
// of the samples, or 0 when there are none. An unbounded last bucket
// reports its lower bound instead.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Total()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range h.Counts {
		seen += n
		if seen >= rank {
			u := h.Upper[i]
			if math.IsInf(u, 1) {
				if i == 0 {
					return 0
				}
				u = h.Upper[i-1]
			}
			return time.Duration(u * 1e9)
		}
	}
	return time.Duration(h.Upper[len(h.Upper)-1] * 1e9)
}

// SchedLatencyQuantile returns quantile q of the scheduling latencies of
// the window between snapshots before and after, e.g. 0.5 and 0.99.
func SchedLatencyQuantile(before, after Stats, q float64) time.Duration {
	return after.SchedLatency.Sub(before.SchedLatency).Quantile(q)
}

// Options tune one snapshot.
type Options struct {
	// GC forces a garbage collection first, so HeapBytes is the live heap.
	GC bool
	// ResetPeak resets VmHWM after reading, starting a new peak window.
	ResetPeak bool
}

var sampleNames = []string{
	"/gc/heap/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/memory/classes/heap/objects:bytes",
	"/sched/goroutines:goroutines",
	"/cpu/classes/gc/total:cpu-seconds",
	"/sched/goroutines-created:goroutines",
	"/sched/latencies:seconds",
	"/gc/cycles/automatic:gc-cycles",
}

// Take reads a snapshot of this process; served reports the app's count.
func Take(o Options, served func() uint64) (Stats, error) {
	if o.GC {
		runtime.GC()
	}
	s := Stats{Time: time.Now(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	samples := make([]metrics.Sample, len(sampleNames))
	for i, n := range sampleNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	s.AllocObjects = samples[0].Value.Uint64()
	s.AllocBytes = samples[1].Value.Uint64()
	s.HeapBytes = samples[2].Value.Uint64()
	s.Goroutines = int(samples[3].Value.Uint64())
	s.GCCPUNanos = int64(samples[4].Value.Float64() * 1e9)
	s.GoroutinesCreated = samples[5].Value.Uint64()
	s.SchedLatency = histogram(samples[6].Value.Float64Histogram())
	s.GCCycles = samples[7].Value.Uint64()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.CPUNanos = ru.Utime.Nano() + ru.Stime.Nano()
	st, err := ProcStatus("self")
	if err != nil {
		return s, err
	}
	s.RSSBytes, s.PeakRSSBytes, s.CPUs = st.RSSBytes, st.PeakRSSBytes, st.CPUs
	if s.Proc, err = sysstat.ReadProc("self"); err != nil {
		return s, err
	}
	if served != nil {
		s.Served = served()
	}
	if o.ResetPeak {
		// Writing 5 to clear_refs resets VmHWM to the current RSS.
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			return s, fmt.Errorf("resetting peak RSS: %w", err)
		}
	}
	return s, nil
}

// Status is what ProcStatus reads from /proc/<pid>/status.
type Status struct {
	RSSBytes, PeakRSSBytes uint64
	// CPUs is Cpus_allowed_list: the CPUs the process may run on.
	CPUs string
}

// ProcStatus reads VmRSS, VmHWM and Cpus_allowed_list of pid ("self" for this process).
func ProcStatus(pid string) (Status, error) {
	var st Status
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return st, fmt.Errorf("reading process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "VmRSS":
			st.RSSBytes = kB(v)
		case "VmHWM":
			st.PeakRSSBytes = kB(v)
		case "Cpus_allowed_list":
			st.CPUs = string(v)
		}
	}
	return st, nil
}

func kB(v []byte) uint64 {
	n, _ := strconv.ParseUint(string(bytes.TrimSuffix(v, []byte(" kB"))), 10, 64)
	return n << 10
}

// Handler serves /stats and /debug/pprof/.
func Handler(served func() uint64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s, err := Take(Options{GC: q.Get("gc") == "1", ResetPeak: q.Get("resetpeak") == "1"}, served)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s) //nolint:errcheck
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var cpu cpuProfile
	mux.HandleFunc("POST /cpuprofile/start", cpu.start)
	mux.HandleFunc("POST /cpuprofile/stop", cpu.stop)
	return mux
}

// cpuProfile is a CPU profile started and stopped by two control calls, so
// it covers the measured window exactly: start answers once the profiler
// runs (pprof's /profile?seconds=N starts whenever its request arrives).
type cpuProfile struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (p *cpuProfile) start(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf != nil {
		http.Error(w, "a CPU profile is already running", http.StatusConflict)
		return
	}
	buf := new(bytes.Buffer)
	if err := rpprof.StartCPUProfile(buf); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.buf = buf
}

func (p *cpuProfile) stop(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.buf == nil {
		http.Error(w, "no CPU profile is running", http.StatusConflict)
		return
	}
	rpprof.StopCPUProfile()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(p.buf.Bytes()) //nolint:errcheck
	p.buf = nil
}

// Listen opens the control listener; addr must be a loopback address.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("control address %q is not loopback: the control port serves profiles and must stay on 127.0.0.0/8", addr)
	}
	return net.Listen("tcp", addr)
}

// Client reads a server process's control endpoint.
type Client struct {
	// Addr is the control endpoint's host:port.
	Addr string
	hc   http.Client
}

// Stats fetches a snapshot.
func (c *Client) Stats(ctx context.Context, o Options) (Stats, error) {
	var s Stats
	url := "http://" + c.Addr + "/stats?gc=" + b01(o.GC) + "&resetpeak=" + b01(o.ResetPeak)
	body, err := c.do(ctx, http.MethodGet, url)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("server stats from %s: %w", c.Addr, err)
	}
	return s, nil
}

// Get fetches a path such as /debug/pprof/allocs and returns the body.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "http://"+c.Addr+path)
}

// Post posts to path on the control endpoint (e.g. "/cpuprofile/start") and
// returns the body.
func (c *Client) Post(ctx context.Context, path string) ([]byte, error) {
	return c.do(ctx, http.MethodPost, "http://"+c.Addr+path)
}

// Timeout bounds every control call; a CPU profile's call gets its
// seconds on top.
const Timeout = 10 * time.Second

func (c *Client) do(ctx context.Context, method, url string) ([]byte, error) {
	limit := Timeout
	if i := strings.Index(url, "seconds="); i >= 0 {
		n, _ := strconv.Atoi(strings.SplitN(url[i+len("seconds="):], "&", 2)[0])
		limit += time.Duration(max(n, 0)) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("server control endpoint %s did not answer within %v: is the server stalled?", c.Addr, limit)
		}
		return nil, fmt.Errorf("server control endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("server control endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("server control endpoint " + url + ": " + resp.Status + ": " + string(bytes.TrimSpace(body)))
	}
	return body, nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
