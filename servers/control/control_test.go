package control

import (
	"context"
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
	forced, err := c.Stats(context.Background(), Options{GC: true})
	if err != nil {
		t.Fatal(err)
	}
	if before.GCCycles < 1 || forced.GCCycles < before.GCCycles+1 {
		t.Errorf("gc cycles %d then %d after a forced GC: want ≥ 1 and one more", before.GCCycles, forced.GCCycles)
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
