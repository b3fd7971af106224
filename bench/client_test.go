package bench

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
)

// BenchmarkClient drives one server (fasthttp, all switches on, TCP
// loopback) through each client model: the cells differ only in the
// client's connection pool. Besides req/s it reports dials per 1,000
// requests (counted at the dialer) and the TIME_WAIT sockets left on the
// server's port.
func BenchmarkClient(b *testing.B) {
	for _, m := range clients.Models {
		for _, conns := range matrix.Conns {
			for _, r := range matrix.Routes {
				name := fmt.Sprintf("client=%s/server=%s/load=keepalive/conns=%d/route=%s", m.Name, servers.Models.All()[0].Name, conns, r.Name)
				b.Run(name, func(b *testing.B) { benchmarkClient(b, m, conns, r) })
			}
		}
	}
}

func benchmarkClient(b *testing.B, m clients.Model, conns int, r app.RouteSpec) {
	h := app.NewHandler(app.AllOn)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := servers.Start(servers.Models.All()[0], servers.Config{Handler: h}, ln)
	defer srv.Stop(10 * time.Second)
	addr := ln.Addr().String()
	b.ReportAllocs()
	res, err := m.Load().Run(context.Background(), func() (net.Conn, error) { return net.Dial("tcp4", addr) }, workloads.Plan{
		Conns: conns, Requests: int64(b.N), Request: Request(r), OnStart: b.ResetTimer,
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.OK != int64(b.N) {
		b.Fatalf("%d of %d requests answered correctly; errors %v %v; first: %v", res.OK, b.N, res.Errors, res.Kinds, res.FirstError)
	}
	tw, _ := workloads.CountTimeWait(ln.Addr().(*net.TCPAddr).Port)
	b.ReportMetric(float64(b.N)/res.Elapsed.Seconds(), "req/s")
	b.ReportMetric(1000*float64(res.Dials)/float64(b.N), "dials/1k-req")
	b.ReportMetric(float64(tw), "timewait-socks")
}
