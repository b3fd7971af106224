package crossover

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/perf/benchmath"
)

// falling is a ratio that falls with log2(conns): 2.0 at 1 connection,
// 0.25 less per doubling, so it crosses 1.2 at 2^3.2 ≈ 9.19 connections;
// noise is Gaussian with standard deviation sd.
func falling(seed uint64, sd float64) (Measure, *int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	calls := 0
	return func(_ context.Context, conns int) (float64, error) {
		calls++
		return 2.0 - 0.25*math.Log2(float64(conns)) + rng.NormFloat64()*sd, nil
	}, &calls
}

func TestFindKnownCrossing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		assume benchmath.Assumption
		sd     float64
		seed   uint64
		th     float64
	}{
		{"median quiet", benchmath.AssumeNothing, 0.02, 1, 1.2},
		{"median noisy", benchmath.AssumeNothing, 0.08, 2, 1.2},
		{"mean noisy", benchmath.AssumeNormal, 0.08, 3, 1.2},
		{"between integers", benchmath.AssumeNothing, 0.05, 4, 1.875},
		{"far end", benchmath.AssumeNothing, 0.05, 5, 0.1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			truth := math.Exp2((2 - tt.th) / 0.25)
			m, calls := falling(tt.seed, tt.sd)
			r, err := Find(context.Background(), Config{Min: 1, Max: 1024, Threshold: tt.th, Assumption: tt.assume, Budget: 400, MaxRepeats: 30}, m)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("bracket %d..%d, estimate %.2f (truth %.2f), %d samples, %d probes", r.Lower, r.Upper, r.Estimate, truth, r.Samples, len(r.Curve))
			if !r.Found {
				t.Fatalf("no crossing found, want one at %.2f", truth)
			}
			if float64(r.Lower) > truth || float64(r.Upper) < truth {
				t.Fatalf("bracket %d..%d, want it around %.2f", r.Lower, r.Upper, truth)
			}
			// An estimate on a probe means that probe stayed unclear.
			for _, p := range r.Curve {
				if float64(p.Conns) == r.Estimate && p.Side != Unclear && p.Conns != r.Lower && p.Conns != r.Upper {
					t.Errorf("estimate on probe %d, which is %v, not unclear", p.Conns, p.Side)
				}
			}
			if r.Upper-r.Lower > 1 && float64(r.Upper) > float64(r.Lower)*1.1 && !unclearAt(r) {
				t.Errorf("bracket %d..%d wider than the resolution", r.Lower, r.Upper)
			}
			if math.Abs(r.Estimate-truth) > 0.25*truth {
				t.Errorf("estimate %.2f, want within 25%% of %.2f", r.Estimate, truth)
			}
			if r.Samples != *calls || r.Samples > 400 {
				t.Errorf("reported %d samples, measured %d times, budget 400", r.Samples, *calls)
			}
			for i, p := range r.Curve {
				if i > 0 && p.Conns <= r.Curve[i-1].Conns {
					t.Errorf("curve not sorted by connections: %d after %d", p.Conns, r.Curve[i-1].Conns)
				}
				if p.Side != Unclear && (p.Lo > p.Center || p.Hi < p.Center) {
					t.Errorf("point %d: center %g outside its interval [%g, %g]", p.Conns, p.Center, p.Lo, p.Hi)
				}
				want := Below
				if float64(p.Conns) < truth {
					want = Above
				}
				if p.Side != Unclear && p.Side != want {
					t.Errorf("point %d is %v, want %v", p.Conns, p.Side, want)
				}
				if len(p.Samples) < 3 {
					t.Errorf("point %d has %d samples, want ≥ 3", p.Conns, len(p.Samples))
				}
			}
		})
	}
}

func TestFindNoCrossing(t *testing.T) {
	t.Parallel()
	m, _ := falling(4, 0.02)
	shifted := func(ctx context.Context, c int) (float64, error) { v, err := m(ctx, c); return v + 5, err }
	r, err := Find(context.Background(), Config{Min: 1, Max: 256, Threshold: 1.2}, shifted)
	if err != nil {
		t.Fatal(err)
	}
	if r.Found {
		t.Fatalf("always above: found a crossing at %d..%d", r.Lower, r.Upper)
	}
	for i, p := range r.Curve {
		if p.Side != Above {
			t.Errorf("point %d is %v, want above", p.Conns, p.Side)
		}
		if i > 0 && p.Conns > 2*r.Curve[i-1].Conns {
			t.Errorf("gap %d..%d wider than a doubling: the sweep stopped early", r.Curve[i-1].Conns, p.Conns)
		}
	}
	if len(r.Curve) < 2 || r.Curve[0].Conns != 1 || r.Curve[len(r.Curve)-1].Conns != 256 {
		t.Errorf("curve %d points from %d, want the whole range 1..256", len(r.Curve), r.Curve[0].Conns)
	}
}

// TestFindTurnsBack finds a crossing between two ends on the same side: a
// ratio that dips below the threshold in the middle of the range.
func TestFindTurnsBack(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(6, 7))
	vee := func(_ context.Context, c int) (float64, error) {
		return 1.0 + 0.15*math.Abs(math.Log2(float64(c))-5) + rng.NormFloat64()*0.02, nil
	}
	r, err := Find(context.Background(), Config{Min: 1, Max: 1024, Threshold: 1.2, Budget: 300, MaxRepeats: 20}, vee)
	if err != nil {
		t.Fatal(err)
	}
	truth := math.Exp2(5 - 0.2/0.15) // the first crossing, ≈ 12.7
	t.Logf("bracket %d..%d, estimate %.2f (truth %.2f), %d samples", r.Lower, r.Upper, r.Estimate, truth, r.Samples)
	if !r.Found || math.Abs(r.Estimate-truth) > 0.25*truth {
		t.Fatalf("found=%v estimate %.2f, want the crossing near %.2f", r.Found, r.Estimate, truth)
	}
}

// TestFindBudget checks a noise the budget cannot beat ends the search
// with what it has, flagged, never past the budget.
func TestFindBudget(t *testing.T) {
	t.Parallel()
	m, calls := falling(5, 2.0)
	r, err := Find(context.Background(), Config{Min: 1, Max: 1024, Threshold: 1.2, Budget: 25, MaxRepeats: 30}, m)
	if err != nil {
		t.Fatal(err)
	}
	if *calls > 25 || r.Samples != *calls {
		t.Fatalf("measured %d times (reported %d), budget 25", *calls, r.Samples)
	}
	if !r.Exhausted || r.Found {
		t.Fatalf("very noisy search: exhausted=%v found=%v, want the budget spent and no crossing claimed", r.Exhausted, r.Found)
	}
}

func TestFindErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("server died")
	_, err := Find(context.Background(), Config{Min: 1, Max: 64, Threshold: 1.2}, func(context.Context, int) (float64, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Errorf("a failing measurement: %v, want it passed on", err)
	}
	for _, c := range []Config{{Min: 0, Max: 64, Threshold: 1.2}, {Min: 64, Max: 64, Threshold: 1.2}, {Min: 1, Max: 64}} {
		if _, err := Find(context.Background(), c, nil); err == nil {
			t.Errorf("config %+v accepted, want an error", c)
		}
	}
}

// TestFindBudgetKeepsBracket checks a search cut short by its budget still
// reports the bracket it has, found past an unclear end.
func TestFindBudgetKeepsBracket(t *testing.T) {
	t.Parallel()
	n := 0
	step := func(_ context.Context, c int) (float64, error) {
		n++
		switch {
		case c == 1: // hopelessly noisy: stays unclear
			return []float64{0.1, 5, 0.2}[n%3], nil
		case c < 10:
			return 2, nil
		default:
			return 0.5, nil
		}
	}
	r, err := Find(context.Background(), Config{Min: 1, Max: 1024, Threshold: 1.2, Assumption: benchmath.AssumeNormal, MaxRepeats: 3, Budget: 12}, step)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bracket %d..%d, estimate %.2f, %d samples, exhausted %v", r.Lower, r.Upper, r.Estimate, r.Samples, r.Exhausted)
	if !r.Found || !r.Exhausted || r.Lower >= 10 || r.Upper < 10 || r.Samples != 12 {
		t.Fatalf("found=%v exhausted=%v bracket %d..%d after %d samples; want a bracket around 10 kept when the budget of 12 ran out", r.Found, r.Exhausted, r.Lower, r.Upper, r.Samples)
	}
}

// unclearAt reports whether the search ended on an unclear probe.
func unclearAt(r Result) bool {
	for _, p := range r.Curve {
		if float64(p.Conns) == r.Estimate && p.Side == Unclear {
			return true
		}
	}
	return false
}
