//go:build !race

package servers_test

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads/driver"
)

// allocsPerRequest serves app-route requests over one in-memory keep-alive
// connection and returns the allocations per request of the whole process:
// the driver allocates nothing, so they are the server's.
func allocsPerRequest(t *testing.T, m servers.Model, v app.Variant) float64 {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := servers.Start(m, servers.Config{Handler: app.NewHandler(v)}, ln)
	defer srv.Stop(5 * time.Second)
	nc, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	c := driver.NewConn(nc, false)
	defer c.CloseConn()
	req := driver.NewGET("poolbench", requests[1].target, 200, -1)
	var rtErr error
	n := testing.AllocsPerRun(2000, func() {
		if err := c.RoundTrip(req); err != nil && rtErr == nil {
			rtErr = err
		}
	})
	if rtErr != nil {
		t.Fatalf("model=%s/%s: %v", m.Name, v, rtErr)
	}
	return n
}

// TestSwitchesAreReal fails unless turning any one switch off, from all on,
// costs at least one more allocation per request on every model, and unless
// fasthttp with all switches on allocates nothing per request.
func TestSwitchesAreReal(t *testing.T) {
	for _, m := range servers.Models.All() {
		t.Run(m.Name, func(t *testing.T) {
			base := allocsPerRequest(t, m, app.AllOn)
			t.Logf("model=%s/%s: %.0f allocs/request", m.Name, app.AllOn, base)
			if m.ZeroAlloc && base != 0 {
				t.Errorf("model=%s/%s: %.0f allocs/request, want 0 (the model promises a zero-allocation server path)", m.Name, app.AllOn, base)
			}
			for _, v := range app.OneOff()[1 : 1+app.Switches.Len()] {
				got := allocsPerRequest(t, m, v)
				t.Logf("model=%s/%s: %.0f allocs/request", m.Name, v, got)
				if got < base+1 {
					t.Errorf("model=%s/%s: %.0f allocs/request, want at least %.0f (all on) + 1: the switch turned off saves nothing", m.Name, v, got, base)
				}
			}
		})
	}
}
