package runner

import (
	"testing"
)

// TestRoundOrder: the two models of every cell run back to back, their
// order turns each round, and every cell runs once per round.
func TestRoundOrder(t *testing.T) {
	var cells []Cell
	for _, m := range []string{"fasthttp", "nethttp"} {
		for _, n := range []int{1, 16, 64} {
			cells = append(cells, testCell(t, m, "keepalive", n))
		}
	}
	for run := 1; run <= 3; run++ {
		got := roundOrder(cells, run)
		if len(got) != len(cells) {
			t.Fatalf("round %d: %d cells, want %d", run, len(got), len(cells))
		}
		seen := map[string]bool{}
		for i := 0; i < len(got); i += 2 {
			a, b := got[i], got[i+1]
			if withoutModel(a) != withoutModel(b) || a.Model.Name == b.Model.Name {
				t.Errorf("round %d: %s then %s: want the same cell's two models back to back", run, a.Name(), b.Name())
			}
			first := "fasthttp"
			if run%2 == 0 {
				first = "nethttp"
			}
			if a.Model.Name != first {
				t.Errorf("round %d: %s runs first, want %s", run, a.Name(), first)
			}
			seen[a.Name()], seen[b.Name()] = true, true
		}
		if len(seen) != len(cells) {
			t.Errorf("round %d ran %d distinct cells, want %d", run, len(seen), len(cells))
		}
	}
}
