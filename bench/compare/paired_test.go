package compare

import (
	"math"
	"testing"
)

func TestPairedSummary(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		pairs          []float64
		center, lo, hi float64 // lo, hi: NaN to ask only for an unbounded interval
	}{
		{"identical pairs: a point interval", []float64{2, 2, 2}, 2, 2, 2},
		{"geometric mean of 1 and 1.21", []float64{1, 1.21}, 1.1, math.NaN(), math.NaN()},
		{"one pair: no interval", []float64{1.5}, 1.5, math.Inf(-1), math.Inf(1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := PairedSummary(tt.pairs, 0.95)
			if math.Abs(s.Center-tt.center) > 1e-9 {
				t.Errorf("center %v, want %v", s.Center, tt.center)
			}
			if !math.IsNaN(tt.lo) && (s.Lo != tt.lo && math.Abs(s.Lo-tt.lo) > 1e-9 || s.Hi != tt.hi && math.Abs(s.Hi-tt.hi) > 1e-9) {
				t.Errorf("interval [%v, %v], want [%v, %v]", s.Lo, s.Hi, tt.lo, tt.hi)
			}
			if math.IsNaN(tt.lo) && !(s.Lo < s.Center && s.Center < s.Hi) {
				t.Errorf("interval [%v, %v] does not hold the centre %v", s.Lo, s.Hi, s.Center)
			}
		})
	}
	// Tight pairs resolve a 3% difference; the same median spread ±50% does not.
	tight := PairedSummary([]float64{1.03, 1.029, 1.031, 1.03, 1.032}, 0.95)
	wide := PairedSummary([]float64{1.03, 0.5, 1.5, 1.03, 1.6}, 0.95)
	if !(tight.Lo > 1) || wide.Lo > 1 {
		t.Errorf("tight [%v, %v] should exclude 1, wide [%v, %v] should not", tight.Lo, tight.Hi, wide.Lo, wide.Hi)
	}
}

func TestPairRatiosPairsWithinFiles(t *testing.T) {
	t.Parallel()
	got := PairRatios([][]float64{{2, 4, 6}, {10}}, [][]float64{{1, 2}, {5, 7}})
	want := []float64{2, 2, 2}
	if len(got) != len(want) {
		t.Fatalf("PairRatios = %v, want %v (the i-th run of each file only)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d = %v, want %v", i, got[i], want[i])
		}
	}
}
