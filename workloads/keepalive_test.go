package workloads_test

import (
	"context"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// TestKeepaliveDedicated drives both models with Plan.Dedicated, the event
// loop poolbench load uses over TCP: counts, latencies, wrong answers and
// the duration stop work as on the goroutine path. Not parallel: the loop
// keeps its P while it waits, and the server shares the process here.
func TestKeepaliveDedicated(t *testing.T) {
	for _, m := range servers.Models.All() {
		t.Run(m.Name, func(t *testing.T) {
			w, h, dial := serve(t, m)
			res, err := workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{
				Conns: 8, Requests: 400, Request: plaintext(), Latency: true, Dedicated: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 400 || res.Errors.Total() != 0 || h.Served() != 400 {
				t.Fatalf("ok=%d errors=%v served=%d, want 400 ok, no errors, 400 served", res.OK, res.Errors, h.Served())
			}
			if res.Dials != 8 || w.accepted.Load() != 8 || res.Latency.TotalCount() != 400 {
				t.Errorf("dials=%d accepted=%d latencies=%d, want 8 keep-alive connections and 400 latencies", res.Dials, w.accepted.Load(), res.Latency.TotalCount())
			}

			res, err = workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{
				Conns: 4, Duration: 50 * time.Millisecond, Request: plaintext(), Dedicated: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK == 0 || res.Errors.Total() != 0 || h.Served() != uint64(400+res.OK) {
				t.Fatalf("duration run: ok=%d errors=%v served=%d, want ok > 0, no errors, %d served", res.OK, res.Errors, h.Served(), 400+res.OK)
			}

			bad := driver.NewGET("poolbench", app.PlaintextPath, 200, len(app.HelloWorld)+1)
			res, err = workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{Conns: 2, Requests: 20, Request: bad, Dedicated: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 0 || res.Errors.BodyLen != 20 || res.Dials != 2 {
				t.Fatalf("ok=%d errors=%v dials=%d, want 20 body-length errors on 2 connections", res.OK, res.Errors, res.Dials)
			}
		})
	}
}
