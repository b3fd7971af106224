package bench

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// Request returns the pre-encoded request for route r together with the
// status and body length every model and variant must answer with.
func Request(r app.RouteSpec) *driver.Request {
	status, n := r.Expect()
	return driver.NewGET("poolbench", r.Target, status, n)
}

// RunCell serves one cell in-process and drives it with exactly b.N
// requests, failing unless all b.N come back correct and the app saw b.N.
// BenchmarkServer runs it for every cell; tests may run it through
// testing.Benchmark.
func RunCell(b *testing.B, c Cell) {
	if c.Transport.Drive != nil { // a transport that drives its own load, e.g. fakeconn
		c.Transport.Drive(b, c)
		return
	}
	v := app.AllOn
	if c.Variant != nil {
		v = *c.Variant
	}
	h := app.NewHandler(v)
	ln, dial, err := c.Transport.Listen()
	if err != nil {
		b.Fatal(err)
	}
	srv := servers.Start(c.Model, servers.Config{Handler: h}, ln)
	defer func() {
		if err := srv.Stop(10 * time.Second); err != nil {
			b.Errorf("%s: %v", c.Model.Name, err)
		}
	}()

	b.ReportAllocs()
	clocks := startClocks()
	var cpu0 time.Duration
	res, err := c.Load.Run(context.Background(), dial, workloads.Plan{
		Conns:    c.Conns,
		Requests: int64(b.N),
		Request:  Request(c.Route),
		OnStart:  func() { b.ResetTimer(); cpu0 = processCPU() },
	})
	b.StopTimer()
	cpu := processCPU() - cpu0
	slow, clocked := clocks.stop()
	if err != nil {
		b.Fatal(err)
	}
	if res.OK != int64(b.N) || res.Errors.Total() != 0 {
		b.Fatalf("%d of %d requests answered correctly; errors: %v; first: %v", res.OK, b.N, res.Errors, res.FirstError)
	}
	if got := h.Served(); got != uint64(b.N) {
		b.Fatalf("server served %d requests, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/res.Elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	if clocked { // a cell shorter than one clock bucket has no reading
		b.ReportMetric(slow, "clock-slow-pct")
	}
}

// processCPU is the CPU time (user and system) this process's threads have
// used so far: unlike wall time it does not count the moments another
// process held the CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
