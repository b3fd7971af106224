package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Precision targets: how still poolbench aims to hold a cell's samples
// (coefficient of variation, median and worst over the cells) and the
// per-round model/baseline ratio.
const (
	targetMedianCV = 2.0
	targetWorstCV  = 5.0
	targetRatioCV  = 3.0
)

// precisionUnits are the headline unit of each layer's closed-loop cells.
var precisionUnits = []struct{ base, layer, unit string }{
	{"Server", "in-process", "ns/op"},
	{"Proc", "process", "req/s"},
	{"Proc", "process", "cpu-ns/op"},
}

// precision: how much each closed-loop cell's samples move (coefficient of
// variation over its rounds) and how much the model/baseline ratio moves
// from round to round, against the targets; raw and adjusted for the CPUs'
// speed (clock.go) where the run was adjusted.
func precision(b *builder) {
	s := &Section{ID: "precision", Title: "Precision: how much do the samples move?",
		Intro: fmt.Sprintf("Coefficient of variation (standard deviation over mean) of each closed-loop cell's samples, over cells with three or more, and of the per-round ratio of each model to %s in the same cell. Targets: median ≤ %g%%, worst ≤ %g%%; ratio ≤ %g%%.",
			b.baseline, targetMedianCV, targetWorstCV, targetRatioCV)}
	t := Table{Caption: "spread of a cell's samples", Header: []string{"layer", "unit", "cells", "median CV", "worst CV", "worst cell", "raw (before the clock adjustment): median, worst"}}
	r := Table{Caption: "spread of the per-round model/" + b.baseline + " ratio", Header: []string{"layer", "unit", "cell pairs", "median CV", "worst CV", "worst pair"}}
	for _, pu := range precisionUnits {
		cells := closedCells(b.r, pu.base, pu.unit)
		var cvs, raws []float64
		worst, worstName := -1.0, ""
		for _, c := range cells {
			v := cv(c.Values[pu.unit])
			cvs = append(cvs, v)
			if v > worst {
				worst, worstName = v, shortName(c)
			}
			if raw := c.Raw[pu.unit]; raw != nil {
				raws = append(raws, cv(raw))
			}
		}
		if len(cvs) > 0 {
			mw := medianWorst(cvs)
			raw := "not adjusted"
			if len(raws) > 0 {
				rw := medianWorst(raws)
				raw = fmt.Sprintf("%.1f%%, %.1f%%", rw[0], rw[1])
			}
			t.Rows = append(t.Rows, []string{pu.layer, pu.unit, strconv.Itoa(len(cvs)), pct1(mw[0], targetMedianCV), pct1(mw[1], targetWorstCV), worstName, raw})
		}
		var rcv []float64
		worst, worstName = -1, ""
		for _, p := range modelPairs(cells, b.baseline) {
			pr := pairedRatio(p[0], p[1], pu.unit)
			if len(pr.Pairs) < 3 {
				continue
			}
			v := cv(pr.Pairs)
			rcv = append(rcv, v)
			if v > worst {
				worst, worstName = v, shortName(p[0])
			}
		}
		if len(rcv) > 0 {
			mw := medianWorst(rcv)
			r.Rows = append(r.Rows, []string{pu.layer, pu.unit, strconv.Itoa(len(rcv)), pct1(mw[0], targetRatioCV), pct1(mw[1], targetRatioCV), worstName})
		}
	}
	if len(t.Rows) == 0 {
		return // one sample per cell (QUICK): nothing to say about spread
	}
	s.Tables = append(s.Tables, t)
	if len(r.Rows) > 0 {
		s.Tables = append(s.Tables, r)
	}
	var met, missed []string
	for _, row := range append(append([][]string{}, t.Rows...), r.Rows...) {
		what := row[0] + " " + row[1]
		if strings.Contains(row[3], "above") || strings.Contains(row[4], "above") {
			missed = append(missed, what)
		} else {
			met = append(met, what)
		}
	}
	if len(missed) == 0 {
		b.say("Precision: every layer met its spread targets (%s).", strings.Join(met, "; "))
	} else {
		b.say("Precision: spread above target in %s; differences smaller than that spread are not resolved by one run.", strings.Join(missed, "; "))
	}
	b.add(s)
}

// pct1 is "1.7%" or "6.2% (above 5%)".
func pct1(v, target float64) string {
	if v > target {
		return fmt.Sprintf("%.1f%% (above %g%%)", v, target)
	}
	return fmt.Sprintf("%.1f%%", v)
}

// closedCells are the run's cells of base whose load is a closed loop and
// which have three or more samples of unit.
func closedCells(r *Run, base, unit string) []*Cell {
	var out []*Cell
	for _, c := range r.Cells {
		if c.Base != base || len(c.Values[unit]) < 3 {
			continue
		}
		if t, ok := loadTraits(c.Keys["load"]); !ok || !t.Closed {
			continue
		}
		out = append(out, c)
	}
	return out
}

// modelPairs pairs every non-baseline model's cell with the baseline's cell
// that has every other key equal.
func modelPairs(cells []*Cell, baseline string) [][2]*Cell {
	key := func(c *Cell) string {
		var ks []string
		for k, v := range c.Keys {
			if k != "model" {
				ks = append(ks, k+"="+v)
			}
		}
		sort.Strings(ks)
		return c.Base + "|" + strings.Join(ks, "|")
	}
	base := map[string]*Cell{}
	for _, c := range cells {
		if c.Keys["model"] == baseline {
			base[key(c)] = c
		}
	}
	var out [][2]*Cell
	for _, c := range cells {
		if d := base[key(c)]; d != nil && c.Keys["model"] != baseline {
			out = append(out, [2]*Cell{c, d})
		}
	}
	return out
}
