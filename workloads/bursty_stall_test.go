package workloads_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// A server that stalls mid-burst must show the stall in the bursty
// workload's latencies. With vegeta's workers capped, requests due during
// the stall wait for a worker and are sent late; timed from when they were
// sent, they look fast (coordinated omission). Timed from their intended
// send time, as Bursty does, the requests due in the stall carry it.
func TestBurstyLatencyIncludesAStall(t *testing.T) {
	const (
		rate    = 1000
		stallAt = 200
		stall   = 400 * time.Millisecond
		workers = 64
	)
	var served atomic.Int64
	var mu sync.Mutex
	var until time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == stallAt {
			mu.Lock()
			until = time.Now().Add(stall)
			mu.Unlock()
		}
		mu.Lock()
		wait := time.Until(until)
		mu.Unlock()
		if wait > 0 {
			time.Sleep(wait)
		}
		w.Write([]byte("ok")) //nolint:errcheck
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	b := workloads.Bursty{Wave: workloads.SquareWave{PerSecond: rate, On: time.Second, Off: 0}, Bursts: 1, ClientIdle: time.Second}
	res, err := b.Run(context.Background(), func() (net.Conn, error) { return net.Dial("tcp", addr) },
		workloads.Plan{Conns: workers, Request: driver.NewGET(addr, "/x", 200, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Total() != 0 || res.OK != rate {
		t.Fatalf("%d ok, errors %v; want %d ok and none", res.OK, res.Errors, rate)
	}
	// About stall×rate = 400 of the 1,000 requests were due during the
	// stall, their latencies spread over 0–400 ms: p90 is near 300 ms.
	// Timed from the actual send, only the 64 requests in flight carry
	// the stall and p90 stays at loopback speed.
	if p90 := time.Duration(res.Latency.ValueAtQuantile(90)); p90 < stall/4 {
		t.Errorf("p90 latency %v with a %v stall at request %d: the stall is missing from the latencies (coordinated omission)", p90, stall, stallAt)
	}
	if max := time.Duration(res.Latency.Max()); max < stall*3/4 {
		t.Errorf("max latency %v, want at least %v: the stall is missing", max, stall*3/4)
	}
}
