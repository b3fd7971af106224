package report

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// noise: how quiet the machine was in each process cell's window (the
// runner's probe and /proc counters), and which samples stayed disturbed
// after their retakes; nothing when the run has no noise figures.
func noise(b *builder) {
	s := &Section{ID: "noise", Title: "Noise: was the machine quiet?",
		Intro: "Before and after every process cell the runner times a fixed CPU loop and syscall loop on the cell's CPUs against the run's baseline; during the window a clock ticks on each of the cell's CPUs (a few microseconds of the same loop every 5 ms, the fastest tick of every 50 ms) and reads how fast the CPU ran; and the runner reads from /proc the CPU time processes other than the server and the load used on those CPUs, and steal. A sample over a threshold is retaken; one still over it is kept and counted here."}
	var cells []*Cell
	for _, c := range b.r.Where(".name:Proc") {
		if len(c.Values["others-cpu-pct"]) > 0 {
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return // a run made before the noise figures existed: nothing to say
	}
	maxSlow := envFloat(b.r, "noise-max-probe-slow-pct", 15)
	maxOthers := envFloat(b.r, "noise-max-others-cpu-pct", 10)
	t := Table{Caption: fmt.Sprintf("cells with a disturbed sample (CPUs > +%g%% slower by probe or clock, or others' CPU > %g%%)", maxSlow, maxOthers),
		Header: []string{"cell", "disturbed samples", "CPUs slower at worst", "worst others' CPU", "steal", "GC cycles in window"}}
	samples, disturbed := 0, 0
	worstSlow, worstOthers := 0.0, 0.0
	for _, c := range cells {
		slow, others := slowPct(c), c.Values["others-cpu-pct"]
		n := 0
		cs, co := 0.0, 0.0
		for i := range others {
			samples++
			sl := 0.0
			if i < len(slow) {
				sl = slow[i]
			}
			cs, co = max(cs, sl), max(co, others[i])
			if sl > maxSlow || others[i] > maxOthers {
				n++
			}
		}
		if n == 0 {
			continue
		}
		disturbed += n
		worstSlow, worstOthers = max(worstSlow, cs), max(worstOthers, co)
		t.Rows = append(t.Rows, []string{shortName(c), fmt.Sprintf("%d of %d", n, len(others)),
			fmt.Sprintf("%+.0f%%", cs), fmt.Sprintf("%.0f%%", co), fmt.Sprintf("%.1f%%", maxOf(c.Values["steal-pct"])), fmtNum(maxOf(c.Values["gc-cycles"]))})
	}
	allSlow, allOthers, allSteal := 0.0, 0.0, 0.0
	for _, c := range cells {
		allSlow, allOthers, allSteal = max(allSlow, maxOf(slowPct(c))), max(allOthers, maxOf(c.Values["others-cpu-pct"])), max(allSteal, maxOf(c.Values["steal-pct"]))
	}
	s.Tables = append(s.Tables, Table{Caption: "all process samples", Header: []string{"samples", "disturbed", "CPUs slower at worst", "worst others' CPU", "worst steal"},
		Rows: [][]string{{strconv.Itoa(samples), strconv.Itoa(disturbed), fmt.Sprintf("%+.0f%%", allSlow), fmt.Sprintf("%.0f%%", allOthers), fmt.Sprintf("%.1f%%", allSteal)}}})
	if disturbed == 0 {
		b.say("Noise: all %d process samples were taken on quiet CPUs (probe and clock within +%g%% of the run's baseline, others' CPU within %g%%).", samples, maxSlow, maxOthers)
	} else {
		b.say("Noise: %d of %d process samples stayed disturbed after their retakes (worst: CPUs %+.0f%% slower than the run's baseline, others' CPU %.0f%% of the cell's CPUs); their figures are less sure than the rest.",
			disturbed, samples, worstSlow, worstOthers)
		s.Tables = append(s.Tables, t)
	}
	clockFits(b, s)
	if sums := disturbedSummaries(b.r); len(sums) > 0 {
		s.Tables = append(s.Tables, Table{Caption: "runner summary", Header: []string{"disturbed-cells"}, Rows: rows(sums)})
	}
	b.add(s)
}

// slowPct is a cell's per-sample slowdown of its CPUs: the worse of the
// probes around the window and, for a closed loop, the clocks during it.
func slowPct(c *Cell) []float64 {
	out := append([]float64(nil), c.Values["probe-slow-pct"]...)
	if t, ok := loadTraits(c.Keys["load"]); !ok || !t.Closed {
		return out // the runner judges open loops by the probes alone
	}
	for _, u := range []string{"server-clock-slow-pct", "load-clock-slow-pct"} {
		for i, v := range c.Values[u] {
			if i < len(out) {
				out[i] = max(out[i], v)
			}
		}
	}
	return out
}

// clockFits shows the adjustment for the CPUs' speed (clock.go): its
// slope per unit and what it did to the cells' spread.
func clockFits(b *builder, s *Section) {
	fits := b.r.ClockFits
	if len(fits) == 0 {
		return
	}
	t := Table{Caption: "adjustment for the CPUs' speed: each closed-loop process sample moved to the run's mean clock (pooled within-cell fit; bench.txt keeps the raw samples)",
		Header: []string{"unit", "clock", "slope: change per 1% slower CPUs", "cells fitted", "CV median raw → adjusted", "CV worst raw → adjusted"}}
	for _, f := range fits {
		t.Rows = append(t.Rows, []string{f.Unit, f.Covariate, fmt.Sprintf("%+.2f%%", 100*(math.Exp(f.Slope)-1)), strconv.Itoa(f.Cells),
			fmt.Sprintf("%.1f%% → %.1f%%", f.RawCV[0], f.AdjCV[0]), fmt.Sprintf("%.1f%% → %.1f%%", f.RawCV[1], f.AdjCV[1])})
	}
	s.Tables = append(s.Tables, t)
	f := fits[0]
	b.say("Noise: the CPUs' speed moved during the windows; %s and the other closed-loop process figures are adjusted to the run's mean clock (%s per 1%% slower CPUs, fitted over %d cells), which took the median spread of a cell's samples from %.1f%% to %.1f%% (worst %.1f%% to %.1f%%).",
		f.Unit, fmt.Sprintf("%+.2f%%", 100*(math.Exp(f.Slope)-1)), f.Cells, f.RawCV[0], f.AdjCV[0], f.RawCV[1], f.AdjCV[1])
}

// shortName is a cell's non-default keys: model, load, conns and any
// switch that is off.
func shortName(c *Cell) string {
	parts := []string{c.Keys["model"], c.Keys["load"], "conns=" + c.Keys["conns"]}
	for _, k := range []string{"route", "client", "gap", "mem", "pool", "conv", "reuse"} {
		if v := c.Keys[k]; v != "" && v != "na" && v != "app" && v != "driver" && v != "default" && v != "on" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func rows(v []string) [][]string {
	out := make([][]string, len(v))
	for i, s := range v {
		out[i] = []string{s}
	}
	return out
}

// envFloat is a numeric file-level key, or def.
func envFloat(r *Run, key string, def float64) float64 {
	if v, err := strconv.ParseFloat(r.EnvValue(key), 64); err == nil {
		return v
	}
	return def
}

// disturbedSummaries are the runner's `disturbed-cells:` lines. They stand
// after the last result of each run, so no result carries them as keys.
func disturbedSummaries(r *Run) []string {
	b, err := os.ReadFile(filepath.Join(r.Dir, "bench.txt"))
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "disturbed-cells:"); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
