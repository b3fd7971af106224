package control

import (
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(func() uint64 { return 42 }), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	c := &Client{Addr: ln.Addr().String()}
	before, err := c.Stats(context.Background(), Options{GC: true, ResetPeak: true})
	if err != nil {
		t.Fatal(err)
	}
	sink := make([][]byte, 0, 1000)
	for range 1000 {
		sink = append(sink, make([]byte, 100))
	}
	_ = sink
	after, err := c.Stats(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Served != 42 || after.GOMAXPROCS < 1 || after.CPUs == "" || after.Goroutines < 1 {
		t.Errorf("stats %+v: want served=42 and GOMAXPROCS, CPUs, goroutines set", after)
	}
	if got := after.AllocObjects - before.AllocObjects; got < 900 { // per-P caches may hold a few back
		t.Errorf("allocations between snapshots = %d, want about the 1000 made", got)
	}
	if after.CPUNanos < before.CPUNanos || after.RSSBytes == 0 || after.PeakRSSBytes < after.RSSBytes/2 {
		t.Errorf("cpu %d→%d, rss %d, peak %d: want monotonic CPU and non-zero memory", before.CPUNanos, after.CPUNanos, after.RSSBytes, after.PeakRSSBytes)
	}
	// Forced cycles (the idle workload's heap readings) are not the
	// runtime's own: five of them must not count five.
	var forced Stats
	for range 5 {
		if forced, err = c.Stats(context.Background(), Options{GC: true}); err != nil {
			t.Fatal(err)
		}
	}
	if forced.GCCycles >= after.GCCycles+5 {
		t.Errorf("gc cycles %d then %d after five forced GCs: forced cycles counted", after.GCCycles, forced.GCCycles)
	}
	if b, err := c.Get(context.Background(), "/debug/pprof/heap?gc=1"); err != nil || len(b) == 0 {
		t.Errorf("heap profile: %d bytes, %v", len(b), err)
	}
	if _, err := c.Get(context.Background(), "/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("GET /nope = %v, want a 404 error", err)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "example.org:0"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%s) succeeded, want a refusal: the control port stays on loopback", addr)
		}
	}
}

func TestWindowWithRequestsMovesCosts(t *testing.T) {
	t.Parallel()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(nil), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	c := &Client{Addr: ln.Addr().String()}
	before, err := c.Stats(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 100 requests on fresh connections: each is served by a new goroutine
	// after accept, read and write system calls, and a wake-up.
	const n = 100
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for range n {
		resp, err := hc.Get("http://" + c.Addr + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	after, err := c.Stats(context.Background(), Options{GC: true})
	if err != nil {
		t.Fatal(err)
	}
	d := after.Proc.Sub(before.Proc)
	if got := after.GoroutinesCreated - before.GoroutinesCreated; got < n {
		t.Errorf("goroutines created in the window = %d, want ≥ %d (one per connection)", got, n)
	}
	if d.ReadCalls < n || d.WriteCalls < n || d.ReadBytes <= 0 || d.WriteBytes <= 0 {
		t.Errorf("system calls in the window %+v: want ≥ %d reads and writes moving bytes", d, n)
	}
	if d.Voluntary <= 0 {
		t.Errorf("voluntary context switches in the window = %d, want > 0", d.Voluntary)
	}
	if w := after.SchedLatency.Sub(before.SchedLatency); w.Total() < n {
		t.Errorf("scheduling latencies in the window = %d, want ≥ %d", w.Total(), n)
	}
	if p50, p99 := SchedLatencyQuantile(before, after, 0.5), SchedLatencyQuantile(before, after, 0.99); p50 <= 0 || p99 < p50 {
		t.Errorf("scheduling latency p50 %v, p99 %v: want 0 < p50 ≤ p99", p50, p99)
	}
	if after.GCCPUNanos <= before.GCCPUNanos {
		t.Errorf("GC CPU %d → %d ns across a forced GC: want growth", before.GCCPUNanos, after.GCCPUNanos)
	}
}

func TestHistogramSubQuantile(t *testing.T) {
	t.Parallel()
	before := Histogram{Upper: []float64{1e-6, 1e-3}, Counts: []uint64{10, 5}}
	after := Histogram{Upper: []float64{1e-6, 1e-5, 1e-3, math.Inf(1)}, Counts: []uint64{60, 30, 14, 1}}
	w := after.Sub(before)
	if w.Total() != 90 {
		t.Fatalf("window %+v: total %d, want 90", w, w.Total())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, time.Microsecond}, {0.6, 10 * time.Microsecond}, {0.95, time.Millisecond}, {1, time.Millisecond}} {
		if got := w.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) of %+v = %v, want %v", c.q, w, got, c.want)
		}
	}
	if got := (Histogram{}).Quantile(0.5); got != 0 {
		t.Errorf("Quantile of an empty histogram = %v, want 0", got)
	}
}

// TestCPUProfileStartStop: the window-aligned CPU profile starts on one
// call and returns its bytes on another; a second start or a stop without
// a start is refused.
func TestCPUProfileStartStop(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(func() uint64 { return 0 })}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Close()
	cl := &Client{Addr: ln.Addr().String()}
	ctx := context.Background()
	if _, err := cl.Post(ctx, "/cpuprofile/stop"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("stop without start: %v, want 409", err)
	}
	if _, err := cl.Post(ctx, "/cpuprofile/start"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Post(ctx, "/cpuprofile/start"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("second start: %v, want 409", err)
	}
	b, err := cl.Post(ctx, "/cpuprofile/stop")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("stop returned %d bytes, want a gzipped profile", len(b))
	}
}
