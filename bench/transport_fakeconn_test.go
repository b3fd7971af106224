package bench

import (
	"flag"
	"testing"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// TestFakeconnCellsServeExactlyN runs transport=fakeconn cells of both
// models and both shapes through testing.Benchmark: a cell whose server
// did not answer exactly b.N requests (as the app and the fake connections
// count them) fails, and a failed benchmark returns N = 0.
func TestFakeconnCellsServeExactlyN(t *testing.T) {
	tr, err := Transports.Lookup("fakeconn")
	if err != nil {
		t.Fatal(err)
	}
	route, err := app.Routes.Lookup("app")
	if err != nil {
		t.Fatal(err)
	}
	loads, err := ClosedLoads().Parse("keepalive,shortlived")
	if err != nil {
		t.Fatal(err)
	}
	// A short benchtime: the verdict is about counts, not speed.
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	if err := bt.Value.Set("2000x"); err != nil {
		t.Fatal(err)
	}
	defer bt.Value.Set(old) //nolint:errcheck
	for _, m := range servers.Models.All() {
		for _, l := range loads {
			c := Cell{Transport: tr, Axes: Axes{Model: m, Route: route, Load: l, Conns: 3, Variant: &app.AllOn}}
			t.Run(c.Name(), func(t *testing.T) {
				res := testing.Benchmark(func(b *testing.B) { RunCell(b, c) })
				if res.N == 0 {
					t.Fatalf("the cell failed: the server did not answer exactly b.N requests")
				}
				if rps := res.Extra["req/s"]; rps <= 0 {
					t.Errorf("req/s = %v, want > 0", rps)
				}
			})
		}
	}
}
