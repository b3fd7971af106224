package crossover

import (
	"math"
	"testing"
)

// TestFileUnboundedInterval: a probe whose interval is unbounded (too few
// samples for its confidence) is written as null and read back as ±Inf,
// where plain JSON would refuse the whole file.
func TestFileUnboundedInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := []Search{{Load: "keepalive", Metric: "req/s", Threshold: 1.2, Result: Result{Curve: []Point{
		{Conns: 1, Samples: []float64{1, 1.1, 1.2}, Center: 1.1, Lo: math.Inf(-1), Hi: math.Inf(1), Confidence: 1, Side: Unclear},
		{Conns: 8, Samples: []float64{2, 2.1, 2.2}, Center: 2.1, Lo: 2, Hi: 2.2, Confidence: 0.95, Side: Above},
	}}}}
	if _, err := WriteFile(dir, in); err != nil {
		t.Fatalf("WriteFile with an unbounded interval: %v", err)
	}
	out, ok, err := ReadFile(dir)
	if err != nil || !ok || len(out) != 1 || len(out[0].Curve) != 2 {
		t.Fatalf("ReadFile: %v, ok %v, %+v: want the one search back", err, ok, out)
	}
	a, b := out[0].Curve[0], out[0].Curve[1]
	if !math.IsInf(a.Lo, -1) || !math.IsInf(a.Hi, 1) || a.Center != 1.1 || a.Side != Unclear {
		t.Errorf("unbounded probe read back as %+v: want Lo -Inf, Hi +Inf, center 1.1", a)
	}
	if b.Lo != 2 || b.Hi != 2.2 || b.Conns != 8 || len(b.Samples) != 3 {
		t.Errorf("bounded probe read back as %+v", b)
	}
}

// TestFileKeepsOtherSearches: a second search for another load joins the
// file; a repeated search replaces its earlier self.
func TestFileKeepsOtherSearches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ka := Search{Load: "keepalive", Metric: "req/s", Threshold: 1.2, Result: Result{Samples: 1}}
	sl := Search{Load: "shortlived", Metric: "req/s", Threshold: 1.2, Result: Result{Samples: 2}}
	ka2 := ka
	ka2.Samples = 3
	for _, s := range []Search{ka, sl, ka2} {
		if _, err := WriteFile(dir, []Search{s}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := ReadFile(dir)
	if err != nil || len(got) != 2 || got[0].Load != "shortlived" || got[1].Load != "keepalive" || got[1].Samples != 3 {
		t.Fatalf("file holds %+v (%v): want shortlived's search and keepalive's latest", got, err)
	}
}
