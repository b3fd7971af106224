package gate

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

var policy = &Policy{MinSamples: 4, Rules: []Rule{
	{Unit: "ns/op", Threshold: 0.05, Alpha: 0.05},
	{Unit: "allocs/op", AnyWorse: true, Alpha: 0.05},
	{Unit: "req/s", Threshold: 0.05, Alpha: 0.05},
}}

// results renders n samples per benchmark; f gives (ns/op, allocs/op) of sample i.
func results(names []string, n int, f func(name string, i int) (float64, float64)) string {
	var b strings.Builder
	b.WriteString("commit: abc\nUnit req/s better=higher\n\n")
	for i := range n {
		for _, name := range names {
			ns, allocs := f(name, i)
			fmt.Fprintf(&b, "BenchmarkServer/%s\t1000\t%g ns/op\t%g req/s\t%g allocs/op\n", name, ns, 1e9/ns, allocs)
		}
	}
	return b.String()
}

func noisy(base float64, i int) float64 { return base * (1 + 0.01*float64(i%3-1)) }

func TestCompare(t *testing.T) {
	t.Parallel()
	names := []string{"model=fasthttp/route=app", "model=nethttp/route=app"}
	steady := func(name string, i int) (float64, float64) { return noisy(1000, i), 0 }
	tests := []struct {
		name       string
		base, head string
		wantExit   int
		wantUnits  []string // units named in regressions
		wantCannot string
	}{
		{name: "same", base: results(names, 6, steady), head: results(names, 6, steady), wantExit: ExitOK},
		{name: "zero to one alloc", base: results(names, 6, steady),
			head:     results(names, 6, func(n string, i int) (float64, float64) { return noisy(1000, i), 1 }),
			wantExit: ExitRegression, wantUnits: []string{"allocs/op"}},
		{name: "20% slower", base: results(names, 6, steady),
			head:     results(names, 6, func(n string, i int) (float64, float64) { return noisy(1200, i), 0 }),
			wantExit: ExitRegression, wantUnits: []string{"sec/op", "req/s"}},
		{name: "3% slower is under the threshold", base: results(names, 6, steady),
			head:     results(names, 6, func(n string, i int) (float64, float64) { return noisy(1030, i), 0 }),
			wantExit: ExitOK},
		{name: "faster is fine", base: results(names, 6, steady),
			head:     results(names, 6, func(n string, i int) (float64, float64) { return noisy(700, i), 0 }),
			wantExit: ExitOK},
		{name: "too few samples", base: results(names, 3, steady), head: results(names, 3, steady),
			wantExit: ExitCannot, wantCannot: "need 4 per side"},
		{name: "benchmark sets differ", base: results(names, 6, steady), head: results(names[:1], 6, steady),
			wantExit: ExitCannot, wantCannot: "the benchmark sets differ (only in base: Server/model=nethttp/route=app)"},
		{name: "empty head", base: results(names, 6, steady), head: "",
			wantExit: ExitCannot, wantCannot: "no benchmark results on the head side"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Compare(strings.NewReader(tt.base), strings.NewReader(tt.head), policy)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.ExitCode(); got != tt.wantExit {
				t.Fatalf("exit %d, want %d; regressions %v; cannot %v", got, tt.wantExit, v.Regressions(), v.Cannot)
			}
			if tt.wantCannot != "" && !strings.Contains(v.Cannot.Error(), tt.wantCannot) {
				t.Errorf("cannot = %v, want it to contain %q", v.Cannot, tt.wantCannot)
			}
			for _, u := range tt.wantUnits {
				n := 0
				for _, f := range v.Regressions() {
					if f.Unit == u {
						n++
						if f.P >= 0.05 {
							t.Errorf("%s: p=%v, want < 0.05", f, f.P)
						}
					}
				}
				if n != len(names) {
					t.Errorf("%d regressions in %s, want one per benchmark (%d): %v", n, u, len(names), v.Regressions())
				}
			}
		})
	}
}

func TestMinDelta(t *testing.T) {
	t.Parallel()
	names := []string{"x=1"}
	floor := &Policy{MinSamples: 4, Rules: []Rule{{Unit: "allocs/op", AnyWorse: true, Alpha: 0.05, MinDelta: 2}}}
	v, err := Compare(strings.NewReader(results(names, 6, func(string, int) (float64, float64) { return 1000, 0 })),
		strings.NewReader(results(names, 6, func(string, int) (float64, float64) { return 1000, 1 })), floor)
	if err != nil {
		t.Fatal(err)
	}
	if v.ExitCode() != ExitOK {
		t.Errorf("a 0 → 1 change under a min_delta of 2 was flagged: %v", v.Regressions())
	}
}

func TestZeroToOneIsInfinite(t *testing.T) {
	t.Parallel()
	names := []string{"x=1"}
	v, err := Compare(strings.NewReader(results(names, 6, func(string, int) (float64, float64) { return 1000, 0 })),
		strings.NewReader(results(names, 6, func(string, int) (float64, float64) { return 1000, 1 })), policy)
	if err != nil {
		t.Fatal(err)
	}
	r := v.Regressions()
	if len(r) != 1 || !math.IsInf(r[0].Delta, 1) || !strings.Contains(r[0].String(), "0 → 1") {
		t.Fatalf("regressions %v, want one allocs/op finding 0 → 1 with an infinite delta", r)
	}
	md := v.Markdown("main", "pr", "table", "6 interleaved samples per side", 0)
	if !strings.Contains(md, "0 → non-zero") || !strings.Contains(md, "**Regression.**") {
		t.Errorf("markdown does not show the 0 → 1 regression:\n%s", md)
	}
}

func TestLoadPolicy(t *testing.T) {
	t.Parallel()
	p, err := LoadPolicy("../gate.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := p.rule("allocs/op"); r == nil || !r.AnyWorse {
		t.Errorf("the repo policy does not gate any allocs/op rise: %+v", r)
	}
	if r := p.rule("B/op"); r == nil || r.MinDelta < 8 {
		t.Errorf("the repo policy's B/op rule = %+v, want an absolute floor against 0 → 1 B/op noise", r)
	}
	if r := p.rule("sec/op"); r == nil || r.Threshold != 0.05 {
		t.Errorf("the repo policy's ns/op rule = %+v, want 5%%", r)
	}
	pp, err := LoadPolicy("paired.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := pp.rule("cpu-sec/op"); r == nil || r.Threshold != 0.01 {
		t.Errorf("the paired policy's cpu-ns/op rule = %+v, want 1%%", r)
	}
	if r := pp.rule("allocs/op"); r == nil || !r.AnyWorse {
		t.Errorf("the paired policy does not gate any allocs/op rise: %+v", r)
	}
	if _, err := LoadPolicy("nope.json"); err == nil {
		t.Error("LoadPolicy(nope.json) succeeded")
	}
}

// TestOptionsCells: the gated cells follow the matrix flags.
func TestOptionsCells(t *testing.T) {
	t.Parallel()
	o := Options{Matrix: DefaultMatrix}
	if got := o.Cells(); len(got) != 4 || !strings.HasPrefix(got[0], "BenchmarkServer/transport=inmem/model=") {
		t.Errorf("default gate cells = %q, want 4 BenchmarkServer cells", got)
	}
	o.Matrix.Conns, o.Matrix.Models = "16,256", "fasthttp"
	if got := o.Cells(); len(got) != 4 || strings.Contains(strings.Join(got, " "), "nethttp") {
		t.Errorf("-models fasthttp -conns 16,256: cells = %q, want fasthttp's 4", got)
	}
	o.Matrix.Conns = "0"
	if got := o.Cells(); got != nil {
		t.Errorf("bad -conns: cells = %q, want none", got)
	}
}
