package runner

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"

	"github.com/poolbench/poolbench/bench/results"
)

// TestCostsPerRequest runs keep-alive and short-lived process cells and
// checks their lines carry the per-request costs with values the mechanism
// implies: every keep-alive request costs the server at least one read and
// one write system call and the load at least one write; net/http starts a
// goroutine per short-lived connection, fasthttp's pool none per keep-alive
// request.
func TestCostsPerRequest(t *testing.T) {
	cells := []Cell{
		testCell(t, "fasthttp", "keepalive", 4), testCell(t, "nethttp", "keepalive", 4),
		testCell(t, "nethttp", "shortlived", 4),
	}
	got := runCells(t, cells)
	for _, c := range cells {
		res := got[c.Name()]
		if res == nil {
			t.Fatalf("bench.txt has no line for %s", c.Name())
		}
		val := func(unit string) float64 {
			v, ok := metric(res, unit)
			if !ok {
				t.Errorf("%s: no %s metric", c.Name(), unit)
			}
			return v
		}
		for _, u := range results.CostUnits {
			if v := val(u.Name); v < 0 {
				t.Errorf("%s: %s = %v, want ≥ 0", c.Name(), u.Name, v)
			}
		}
		if cpu := val("user-ns/op") + val("sys-ns/op"); cpu <= 0 {
			t.Errorf("%s: server user+sys = %v ns/op, want > 0", c.Name(), cpu)
		}
		if cpu := val("load-user-ns/op") + val("load-sys-ns/op"); cpu <= 0 {
			t.Errorf("%s: load user+sys = %v ns/op, want > 0", c.Name(), cpu)
		}
		if v := val("in-B/op"); v < 50 {
			t.Errorf("%s: in-B/op = %v, want at least a request's bytes (> 50)", c.Name(), v)
		}
		switch c.Load.Name() {
		case "keepalive":
			for _, u := range []string{"syscr/op", "syscw/op", "load-syscw/op"} {
				if v := val(u); v < 0.9 {
					t.Errorf("%s: %s = %v, want ≥ 1 system call per keep-alive request", c.Name(), u, v)
				}
			}
			if v := val("goroutines/op"); c.Model.Name == "fasthttp" && v > 0.1 {
				t.Errorf("%s: goroutines/op = %v, want ≈ 0: the worker pool reuses its goroutines", c.Name(), v)
			}
		case "shortlived":
			if v := val("goroutines/op"); v < 0.9 {
				t.Errorf("%s: goroutines/op = %v, want ≥ 1: net/http starts one per connection", c.Name(), v)
			}
		}
	}
}

// runCells runs cells once with the quick settings and reads bench.txt back.
func runCells(t *testing.T, cells []Cell) map[string]*benchfmt.Result {
	t.Helper()
	dir := t.TempDir()
	r := &Runner{Binary: binary, Dir: dir, Settings: quick, Count: 1}
	if err := r.Run(context.Background(), cells); err != nil {
		t.Fatal(err)
	}
	got, err := results.Read(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// metric is res's value of unit as written: benchfmt tidies ns to sec,
// except in zero values.
func metric(res *benchfmt.Result, unit string) (float64, bool) {
	_, tidy := benchunit.Tidy(1, unit)
	if v, ok := res.Value(tidy); ok {
		return v, true
	}
	return res.Value(unit)
}
