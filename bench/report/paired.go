package report

import (
	"fmt"
	"math"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/poolbench/poolbench/bench/compare"
)

// confidence is the level of every interval the report prints.
const confidence = 0.95

// paired is a ratio of two cells measured in the same rounds: the per-round
// ratios (paired as bench/compare pairs them: the i-th run of each, which
// shared the machine's state) and their interval.
type paired struct {
	S     benchmath.Summary
	Pairs []float64
}

// pairedRatio is num/den of unit, round by round.
func pairedRatio(num, den *Cell, unit string) paired {
	if num == nil || den == nil {
		return paired{S: benchmath.Summary{Center: math.NaN(), Lo: math.Inf(-1), Hi: math.Inf(1)}}
	}
	pairs := compare.PairRatios([][]float64{num.Values[unit]}, [][]float64{den.Values[unit]})
	return paired{S: compare.PairedSummary(pairs, confidence), Pairs: pairs}
}

// spread is the interval of one cell's samples of unit, for error bars.
func spread(c *Cell, unit string) benchmath.Summary {
	if c == nil {
		return benchmath.Summary{Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	return compare.PairedSummary(c.Values[unit], confidence)
}

// String is "1.58× [1.52, 1.63]", "—" without pairs.
func (p paired) String() string {
	if len(p.Pairs) == 0 || math.IsNaN(p.S.Center) {
		return "—"
	}
	if p.wide() {
		return fmt.Sprintf("%.2f× (interval wider than 100× at %d rounds)", p.S.Center, len(p.Pairs))
	}
	return compare.RatioString(p.S, p.Pairs)
}

// wide reports an interval too wide to print usefully: a factor of more
// than 100 between its ends (two rounds of a noisy cell).
func (p paired) wide() bool {
	return !math.IsInf(p.S.Hi, 0) && p.S.Lo > 0 && p.S.Hi/p.S.Lo > 100 || p.S.Lo <= 0 && !math.IsInf(p.S.Lo, 0)
}

// vs says where the ratio stands against threshold: +1 its interval lies
// above, -1 below, 0 not resolved (the interval spans it or is unbounded).
func (p paired) vs(threshold float64) int {
	switch {
	case len(p.Pairs) == 0 || math.IsInf(p.S.Lo, 0) || math.IsInf(p.S.Hi, 0):
		return 0
	case p.S.Lo > threshold:
		return 1
	case p.S.Hi < threshold:
		return -1
	}
	return 0
}

// bounded are the finite ends of the interval, for error bars (the centre
// when unbounded, so a bar is not drawn to infinity).
func bounded(s benchmath.Summary) (lo, hi float64) {
	lo, hi = s.Lo, s.Hi
	if math.IsInf(lo, 0) || math.IsNaN(lo) {
		lo = s.Center
	}
	if math.IsInf(hi, 0) || math.IsNaN(hi) {
		hi = s.Center
	}
	return lo, hi
}

// connList joins connection counts for a sentence.
func connList(cs []string) string {
	return fmt.Sprintf("%s connection(s)", strings.Join(cs, ", "))
}

// pct is the ratio as a change with its interval, e.g. "+3.1% [+1.0%,
// +5.2%]"; "(± ∞)" with too few rounds for an interval, "—" without pairs.
func (p paired) pct() string {
	if len(p.Pairs) == 0 || math.IsNaN(p.S.Center) {
		return "—"
	}
	c := fmt.Sprintf("%+.1f%%", 100*(p.S.Center-1))
	if math.IsInf(p.S.Lo, 0) || math.IsInf(p.S.Hi, 0) {
		return c + " (± ∞)"
	}
	if p.wide() {
		return fmt.Sprintf("%s (interval wider than 100× at %d rounds)", c, len(p.Pairs))
	}
	return fmt.Sprintf("%s [%+.1f%%, %+.1f%%]", c, 100*(p.S.Lo-1), 100*(p.S.Hi-1))
}
