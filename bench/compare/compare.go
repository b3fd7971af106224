package compare

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"
)

// MachineKeys are the file-level keys that describe the machine and the
// toolchain; a difference in any of them is called out first.
var MachineKeys = []string{"cpu", "num-cpu", "kernel", "go-version", "fasthttp-version", "goos", "goarch"}

// SetupKeys are the file-level keys that describe how a run was set up
// (pinning, GOMAXPROCS, windows); differences are listed after the machine's.
var SetupKeys = []string{"gomaxprocs", "pinning", "server-cpus", "load-cpus", "server-gomaxprocs", "load-gomaxprocs",
	"benchtime", "window", "warmup", "fasthttp-max-idle-worker-duration"}

// IdentityKeys name a run; they always differ and are shown, never compared.
var IdentityKeys = []string{"commit", "date"}

// Unknown stands for a file-level key a run does not record.
const Unknown = "unknown"

// Options tune a comparison.
type Options struct {
	// Baseline is the model every other model is divided by in the
	// headline ratios (other/baseline), e.g. "nethttp".
	Baseline string
	// RatioUnits are the units the headline ratios are taken in, e.g.
	// req/s; a group without the unit on both models has no ratio.
	RatioUnits []string
	// Alpha is the significance level (default benchmath's 0.05).
	Alpha float64
	// Confidence is the level of the intervals (default 0.95).
	Confidence float64
}

// Comparison is two runs side by side.
type Comparison struct {
	// A and B are the two sides, as read.
	A, B *Run
	// Machine and Setup list the keys of MachineKeys and SetupKeys, with
	// each side's values; Identity lists commit and date.
	Machine, Setup, Identity []EnvRow
	// Ratios are the headline ratios, in cell order.
	Ratios []Ratio
	// Tables hold the cells both sides have: one table per benchmark and unit.
	Tables []*Table
	// OnlyA and OnlyB are cells one side has and the other lacks.
	OnlyA, OnlyB []string
}

// EnvRow is one file-level key on both sides.
type EnvRow struct {
	Key, A, B string
}

// Differs reports whether the two sides' values differ.
func (e EnvRow) Differs() bool { return e.A != e.B }

// Table is one benchmark's cells in one unit.
type Table struct {
	// Base is the benchmark's base name ("Proc", "Server", "Client").
	Base, Unit string
	// Better is +1 if higher is better, -1 if lower, 0 if unknown.
	Better int
	Rows   []Row
}

// Row is one cell in one unit on both sides.
type Row struct {
	// Cell is the cell's name below its benchmark, e.g. model=fasthttp/….
	Cell string
	A, B benchmath.Summary
	Cmp  benchmath.Comparison
}

// Delta is the change from A to B in percent, "~" when not significant.
func (r Row) Delta() string { return r.Cmp.FormatDelta(r.A.Center, r.B.Center) }

// Ratio is one headline ratio, Base/Other in Unit, on both sides. Its
// samples pair the i-th run of each model's cell within one file (the
// runs interleave, so a pair shares the machine's state).
type Ratio struct {
	// Group is the cell without its model, e.g. Proc/client=driver/….
	Group, Unit, Base, Other string
	A, B                     benchmath.Summary
	Cmp                      benchmath.Comparison
	// PairsA and PairsB are the per-pair ratios the summaries rest on.
	PairsA, PairsB []float64
}

// Verdict is one of "grew", "shrank", "unchanged" and, where the sides
// have too few paired runs for the test to ever reach significance,
// "unclear".
func (r Ratio) Verdict() string {
	switch {
	case r.Cmp.P < r.Cmp.Alpha && r.B.Center > r.A.Center:
		return "grew"
	case r.Cmp.P < r.Cmp.Alpha && r.B.Center < r.A.Center:
		return "shrank"
	case minP(len(r.PairsA), len(r.PairsB)) >= r.Cmp.Alpha:
		return "unclear"
	}
	return "unchanged"
}

// minP is the smallest two-sided p-value the Mann-Whitney U test can give
// samples of n1 and n2 values: 2 / C(n1+n2, n1), when they do not overlap.
func minP(n1, n2 int) float64 {
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// Compare sets a and b side by side.
func Compare(a, b *Run, o Options) *Comparison {
	if o.Alpha == 0 {
		o.Alpha = benchmath.DefaultThresholds.CompareAlpha
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	thr := benchmath.DefaultThresholds
	thr.CompareAlpha = o.Alpha
	c := &Comparison{A: a, B: b}
	env := func(keys []string, unknown string) []EnvRow {
		var rows []EnvRow
		for _, k := range keys {
			va, vb := envValue(a, k, unknown), envValue(b, k, unknown)
			if va == "" && vb == "" {
				continue
			}
			rows = append(rows, EnvRow{k, or(va, Unknown), or(vb, Unknown)})
		}
		return rows
	}
	c.Machine = env(MachineKeys, Unknown)
	c.Setup = env(SetupKeys, "")
	c.Identity = env(IdentityKeys, "")

	for _, n := range a.order {
		if b.cells[n] == nil {
			c.OnlyA = append(c.OnlyA, n)
		}
	}
	for _, n := range b.order {
		if a.cells[n] == nil {
			c.OnlyB = append(c.OnlyB, n)
		}
	}
	tables := map[[2]string]*Table{}
	for _, n := range a.order {
		ca, cb := a.cells[n], b.cells[n]
		if cb == nil {
			continue
		}
		for _, u := range ca.units {
			if cb.values[u] == nil {
				continue
			}
			key := [2]string{ca.base, u}
			t := tables[key]
			if t == nil {
				better := a.units.GetBetter(u)
				if better == 0 {
					better = b.units.GetBetter(u)
				}
				t = &Table{Base: ca.base, Unit: u, Better: better}
				tables[key] = t
				c.Tables = append(c.Tables, t)
			}
			as := benchmath.NewSample(ca.samples(u), &thr)
			bs := benchmath.NewSample(cb.samples(u), &thr)
			assume := a.units.GetAssumption(u)
			t.Rows = append(t.Rows, Row{
				Cell: strings.TrimPrefix(strings.TrimPrefix(n, ca.base), "/"),
				A:    assume.Summary(as, o.Confidence), B: assume.Summary(bs, o.Confidence),
				Cmp: assume.Compare(as, bs),
			})
		}
	}
	c.Ratios = ratios(a, b, o, &thr)
	return c
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// envValue is a run's value of a file-level key; several distinct values
// (a set of runs, or layers that differ) are joined with " | ".
func envValue(r *Run, key, unknown string) string {
	if v := r.Env[key]; len(v) > 0 {
		return strings.Join(v, " | ")
	}
	return unknown
}

// ratios computes Other/Base for every group both sides have, every
// other model and every ratio unit.
func ratios(a, b *Run, o Options, thr *benchmath.Thresholds) []Ratio {
	var out []Ratio
	seen := map[string]bool{}
	for _, n := range a.order {
		base := a.cells[n]
		if base.model != o.Baseline || seen[base.group] {
			continue
		}
		seen[base.group] = true
		for _, other := range a.order {
			oc := a.cells[other]
			if oc.group != base.group || oc.model == o.Baseline {
				continue
			}
			bBase, bOther := b.cells[n], b.cells[other]
			if bBase == nil || bOther == nil {
				continue
			}
			for _, u := range o.RatioUnits {
				ra, rb := pairRatios(oc, base, u), pairRatios(bOther, bBase, u)
				if len(ra) == 0 || len(rb) == 0 {
					continue
				}
				as, bs := benchmath.NewSample(ra, thr), benchmath.NewSample(rb, thr)
				out = append(out, Ratio{
					Group: base.group, Unit: u, Base: o.Baseline, Other: oc.model,
					A: benchmath.AssumeNothing.Summary(as, o.Confidence), B: benchmath.AssumeNothing.Summary(bs, o.Confidence),
					Cmp: benchmath.AssumeNothing.Compare(as, bs), PairsA: ra, PairsB: rb,
				})
			}
		}
	}
	return out
}

// pairRatios is PairRatios of two cells' samples of unit.
func pairRatios(num, den *cell, unit string) []float64 {
	return PairRatios(num.values[unit], den.values[unit])
}

// PairRatios divides the i-th sample of num by the i-th sample of den
// within each file (nv[f], dv[f] are file f's samples in file order: the
// runs interleave, so the i-th of each shares the machine's state); pairs
// with a zero or missing denominator are left out.
func PairRatios(nv, dv [][]float64) []float64 {
	if nv == nil || dv == nil {
		return nil
	}
	var out []float64
	for f := range min(len(nv), len(dv)) {
		for i := range min(len(nv[f]), len(dv[f])) {
			if d := dv[f][i]; d != 0 && !math.IsNaN(d) {
				out = append(out, nv[f][i]/d)
			}
		}
	}
	return out
}

// MachineDiffers lists the machine keys whose values differ.
func (c *Comparison) MachineDiffers() []EnvRow {
	return slices.DeleteFunc(slices.Clone(c.Machine), func(e EnvRow) bool { return !e.Differs() })
}

// Count tallies the headline ratios by verdict.
func (c *Comparison) Count() map[string]int {
	m := map[string]int{}
	for _, r := range c.Ratios {
		m[r.Verdict()]++
	}
	return m
}

// PairedSummary summarises per-pair ratios: the geometric mean with a
// Student-t interval at confidence computed on the logarithms (ratios are
// multiplicative, so their logs are the natural scale). Unlike a
// distribution-free interval it exists from 2 pairs on; with fewer, Lo
// and Hi are infinite.
func PairedSummary(pairs []float64, confidence float64) benchmath.Summary {
	var logs []float64
	for _, p := range pairs {
		if p > 0 && !math.IsInf(p, 0) {
			logs = append(logs, math.Log(p))
		}
	}
	if len(logs) == 0 {
		return benchmath.Summary{Center: math.NaN(), Lo: math.Inf(-1), Hi: math.Inf(1), Confidence: confidence}
	}
	ls := benchmath.AssumeNormal.Summary(benchmath.NewSample(logs, &benchmath.DefaultThresholds), confidence)
	out := benchmath.Summary{Center: math.Exp(ls.Center), Lo: math.Inf(-1), Hi: math.Inf(1), Confidence: confidence}
	if len(logs) >= 2 && !math.IsNaN(ls.Lo) && !math.IsNaN(ls.Hi) {
		out.Lo, out.Hi = math.Exp(ls.Lo), math.Exp(ls.Hi)
	}
	return out
}

// RatioString is ratioString, for other packages' tables.
func RatioString(s benchmath.Summary, pairs []float64) string { return ratioString(s, pairs) }

// ratioString is a ratio's median with its interval, e.g. "1.58× [1.52,
// 1.63]"; with too few pairs for an interval, the pairs' range instead.
func ratioString(s benchmath.Summary, pairs []float64) string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return fmt.Sprintf("%.2f× (± ∞; range %.2f–%.2f)", s.Center, slices.Min(pairs), slices.Max(pairs))
	}
	return fmt.Sprintf("%.2f× [%.2f, %.2f]", s.Center, s.Lo, s.Hi)
}
