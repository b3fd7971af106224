package workloads_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

func TestSquareWavePlan(t *testing.T) {
	t.Parallel()
	sw := workloads.SquareWave{PerSecond: 1000, On: 100 * time.Millisecond, Off: 150 * time.Millisecond}
	if got := sw.PerBurst(); got != 100 {
		t.Fatalf("PerBurst() = %d, want 100", got)
	}
	// Hits 0..299 fall in three bursts, 100 each, and none in a silence.
	counts := map[int]int{}
	for k := uint64(0); k < 300; k++ {
		due := sw.Due(k)
		period := int(due / (sw.On + sw.Off))
		if phase := due % (sw.On + sw.Off); phase >= sw.On {
			t.Fatalf("hit %d due at %v, inside the silence of period %d", k, due, period)
		}
		counts[period]++
	}
	for p := 0; p < 3; p++ {
		if counts[p] != 100 {
			t.Errorf("burst %d plans %d hits, want 100", p, counts[p])
		}
	}
	if wait, stop := sw.Pace(0, 100); stop || wait != 250*time.Millisecond {
		t.Errorf("Pace(0, 100) = %v, %v; want to wait 250ms for the second burst", wait, stop)
	}
	if wait, _ := sw.Pace(300*time.Millisecond, 100); wait != 0 {
		t.Errorf("Pace(300ms, 100) = %v, want 0: the hit is overdue", wait)
	}
	if r := sw.Rate(120 * time.Millisecond); r != 0 {
		t.Errorf("Rate during the silence = %v, want 0", r)
	}
}

// TestBurstyArrivals sends a real square wave through vegeta and checks,
// at the server, that each burst brought its planned requests and the
// silences brought none.
func TestBurstyArrivals(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var arrivals []time.Time
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Write(app.HelloWorld)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	b := workloads.Bursty{Wave: workloads.SquareWave{PerSecond: 400, On: 250 * time.Millisecond, Off: 500 * time.Millisecond}, Bursts: 3, ClientIdle: 100 * time.Millisecond}
	var start time.Time
	res, err := b.Run(context.Background(), func() (net.Conn, error) { return net.Dial("tcp4", addr) }, workloads.Plan{
		Request: driver.NewGET("poolbench", "/plaintext", 200, len(app.HelloWorld)),
		OnStart: func() { start = time.Now() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 300 || res.Errors.Total() != 0 {
		t.Fatalf("ok=%d errors=%v, want 300 ok", res.OK, res.Errors)
	}
	if res.Dials < 3 {
		t.Errorf("%d dials, want at least one per burst: the client drops idle connections between bursts", res.Dials)
	}
	period := b.Wave.On + b.Wave.Off
	perBurst := map[int]int{}
	for _, a := range arrivals {
		el := a.Sub(start)
		// A request may land late in the silence after its own burst on a
		// busy machine (half the silence of slack), never early: the
		// per-burst counts below catch one sent in the wrong burst.
		if phase := el % period; phase > b.Wave.On+b.Wave.Off/2 {
			t.Errorf("request arrived %v into the run, inside a silence", el)
		}
		perBurst[int(el/period)]++
	}
	for p := 0; p < 3; p++ {
		if perBurst[p] != 100 {
			t.Errorf("burst %d: %d requests arrived, want 100 (all: %v)", p, perBurst[p], perBurst)
		}
	}
}

func TestIdleHoldsConnections(t *testing.T) {
	t.Parallel()
	for _, m := range []string{"fasthttp", "nethttp"} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			w, h, dial := serve(t, lookup(t, m))
			const n = 300
			var open int64
			res, err := workloads.Idle{Hold: 50 * time.Millisecond}.Run(context.Background(), dial, workloads.Plan{
				Conns: n, Request: plaintext(),
				OnEnd: func() { open = w.accepted.Load() - w.clientFirst.Load() - w.serverFirst.Load() },
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != n || res.Dials != n || h.Served() != n {
				t.Fatalf("ok=%d dials=%d served=%d, want %d of each", res.OK, res.Dials, h.Served(), n)
			}
			if open != n {
				t.Fatalf("server had %d connections open while they were held, want %d", open, n)
			}
		})
	}
}
