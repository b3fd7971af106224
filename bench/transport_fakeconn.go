package bench

import (
	"testing"

	"github.com/poolbench/poolbench/bench/fakeconn"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
)

// fakeconnShape maps a closed-loop workload onto fasthttp's request shapes
// by its RequestsPerConn trait: keep-alive (0) replays 10000 requests per
// fake connection (Get10KReqPerConn), and N replays N, so 1 is
// Get1ReqPerConn. The request is the same keep-alive GET in every shape: a
// connection ends as the driver's short-lived ones do, with the client's
// close, which the server reads as EOF after its last request (fasthttp's
// suite has its handler ask for the close instead: make fakeconn-check
// found the same ratio either way, and a Connection: close header would be
// one request header more than that suite sends).
func fakeconnShape(k workloads.Kind) (perConn int, ok bool) {
	t := k.Traits()
	switch {
	case !t.Closed || t.PerConn || t.FixedServer:
		return 0, false
	case t.RequestsPerConn == 0:
		return fakeconn.TenKRequestsPerConn, true
	}
	return t.RequestsPerConn, true
}

// driveFakeconn is the fakeconn transport's Drive: no client and no kernel,
// as in fasthttp's server_timing_test.go. The server accepts c.Conns fake
// connections at a time, each replaying K copies of the route's request from
// memory; exactly b.N requests are served and checked (fakeconn.Serve).
func driveFakeconn(b *testing.B, c Cell) {
	perConn, ok := fakeconnShape(c.Load)
	if !ok {
		b.Fatalf("transport=fakeconn: load %q is not a closed loop of requests: it has no fake-connection shape", c.Load.Name())
	}
	v := app.AllOn
	if c.Variant != nil {
		v = *c.Variant
	}
	h := app.NewHandler(v)
	status, _ := c.Route.Expect()
	p := fakeconn.Plan{Request: fakeconn.NewGET(c.Route.Target, false), Status: status,
		Conns: c.Conns, RequestsPerConn: perConn, Requests: b.N}
	b.ReportAllocs()
	b.ResetTimer()
	_, err := fakeconn.Serve(b, c.Model, servers.Config{Handler: h}, p)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if got := h.Served(); got != uint64(b.N) {
		b.Fatalf("transport=fakeconn: the app served %d requests, want b.N = %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
