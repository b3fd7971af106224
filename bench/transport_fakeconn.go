package bench

import (
	"testing"

	"github.com/poolbench/poolbench/bench/fakeconn"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// fakeconnShapes maps the closed-loop workloads onto fasthttp's two request
// shapes: K requests per fake connection, and whether the request asks the
// server to close (fakeconn.NewGET).
var fakeconnShapes = map[string]struct {
	perConn int
	close   bool
}{
	"keepalive":  {fakeconn.TenKRequestsPerConn, false}, // Get10KReqPerConn
	"shortlived": {fakeconn.OneRequestPerConn, true},    // Get1ReqPerConn
}

// driveFakeconn is the fakeconn transport's Drive: no client and no kernel,
// as in fasthttp's server_timing_test.go. The server accepts c.Conns fake
// connections at a time, each replaying K copies of the route's request from
// memory; exactly b.N requests are served and checked (fakeconn.Serve).
func driveFakeconn(b *testing.B, c Cell) {
	shape, ok := fakeconnShapes[c.Load.Name()]
	if !ok {
		b.Fatalf("transport=fakeconn: load %q has no fake-connection shape: want keepalive (10000 requests per connection) or shortlived (1)", c.Load.Name())
	}
	v := app.AllOn
	if c.Variant != nil {
		v = *c.Variant
	}
	h := app.NewHandler(v)
	status, _ := c.Route.Expect()
	p := fakeconn.Plan{Request: fakeconn.NewGET(c.Route.Target, shape.close), Status: status,
		Conns: c.Conns, RequestsPerConn: shape.perConn, Requests: b.N}
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
