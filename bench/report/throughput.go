package report

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
)

// allOn is a filter selecting the cells with every app switch on, e.g.
// "/pool:on /conv:on /reuse:on", from the switch table.
func allOn() string {
	var f []string
	for _, k := range app.SwitchKeys() {
		f = append(f, "/"+k+":on")
	}
	return strings.Join(f, " ")
}

// throughput: closed-loop req/s, p99 and server CPU per request by
// connections, every model against the baseline; the process layer, or the
// in-process TCP cells when the run has no process layer.
func throughput(b *builder) {
	s := &Section{ID: "throughput", Title: "Throughput by connections",
		Intro: "Closed-loop load, app route, all switches on. Process layer: server and load in separate processes, each pinned to its own CPU; server CPU per request from the server's rusage."}
	layer := "Proc"
	cells := b.r.Where(".name:Proc /client:driver /route:app " + allOn())
	if len(cells) == 0 {
		layer = "Server"
		cells = b.r.Where(".name:Server /transport:tcp /route:app " + allOn())
		s.Intro = "Closed-loop load, app route, all switches on, in-process over loopback TCP (no process layer in this run)."
	}
	if len(b.r.ClockFits) > 0 {
		s.Intro += " req/s and CPU per request are adjusted for the CPUs' speed during each window (the Noise section shows how, and by how much); bench.txt keeps the raw samples."
	}
	loads, absent := closedLoads(cells)
	for _, l := range absent {
		b.missing("%s: no %s cells (%s layer)", s.Title, l, layer)
	}
	if len(loads) == 0 {
		return
	}
	for _, load := range loads {
		lc := selectKey(cells, "load", load)
		models, conns := b.models(lc), values(lc, "conns")
		others, _ := b.others(models)
		base := b.baseline
		t := Table{Caption: load + "; ratios are req/s per round, paired, with their 95% interval", Header: []string{"conns"}}
		for _, m := range models {
			t.Header = append(t.Header, m+" req/s", m+" p99", m+" server CPU/req")
		}
		for _, m := range others {
			t.Header = append(t.Header, m+"/"+base)
		}
		series, ratios := seriesFor(models), seriesFor(others)
		for _, cn := range conns {
			row := []string{cn}
			x, xErr := strconv.ParseFloat(cn, 64)
			for i, m := range models {
				c := find(lc, "model", m, "conns", cn)
				v := median(c, "req/s")
				row = append(row, fmtRate(v), fmtNs(median(c, "p99-ns")), fmtNs(median(c, "cpu-ns/op")))
				if xErr == nil && !math.IsNaN(v) {
					lo, hi := bounded(spread(c, "req/s"))
					series[i].add(x, v, lo, hi)
				}
			}
			for i, m := range others {
				pr := pairedRatio(find(lc, "model", m, "conns", cn), find(lc, "model", base, "conns", cn), "req/s")
				row = append(row, pr.String())
				if xErr == nil && len(pr.Pairs) > 0 {
					lo, hi := bounded(pr.S)
					ratios[i].add(x, pr.S.Center, lo, hi)
				}
			}
			t.Rows = append(t.Rows, row)
		}
		s.Tables = append(s.Tables, t)
		c, err := lineChart("throughput-"+load, "req/s by connections, "+load+" (error bars: 95% interval)", "connections", "req/s", true, series)
		b.chart(s, c, err)
		if len(others) > 0 {
			c, err := lineChart("ratio-"+load, "req/s ratio to "+base+" by connections, "+load+" (paired by round, 95% interval)", "connections", "ratio", true, ratios)
			b.chart(s, c, err)
		}
		if layer != "Proc" {
			continue
		}
		for _, m := range others {
			b.saysRatios(load, m, base, conns, lc)
		}
	}
	b.add(s)
}

// selectKey keeps the cells whose key has value v.
func selectKey(cells []*Cell, key, v string) []*Cell {
	var out []*Cell
	for _, c := range cells {
		if c.Keys[key] == v {
			out = append(out, c)
		}
	}
	return out
}

// pairedAt is num/den of unit at conns connections, round by round.
func pairedAt(lc []*Cell, num, den, conns, unit string) paired {
	return pairedRatio(find(lc, "model", num, "conns", conns), find(lc, "model", den, "conns", conns), unit)
}

// closedLoads lists the workloads among cells whose cells count requests
// in a closed loop against every model (workloads.Kind traits), in the
// registry's order; a workload this build does not know is kept, last.
// absent are the registered ones of that kind the cells lack.
func closedLoads(cells []*Cell) (out, absent []string) {
	have := values(cells, "load")
	for _, k := range workloads.Kinds() {
		if t := k.Traits(); !t.Closed || t.PerConn || t.FixedServer {
			continue
		}
		if slices.Contains(have, k.Name()) {
			out = append(out, k.Name())
		} else {
			absent = append(absent, k.Name())
		}
	}
	for _, l := range have {
		if _, err := workloads.Registry.Lookup(l); err != nil {
			out = append(out, l)
		}
	}
	return out, absent
}

// loadTraits are the registered workload's traits, if this build knows it.
func loadTraits(name string) (workloads.Traits, bool) {
	d, err := workloads.Registry.Lookup(name)
	if err != nil {
		return workloads.Traits{}, false
	}
	return d().Traits(), true
}

// saysRatios says how num/den's req/s ratio runs over the connection
// counts of one load, claiming a difference only where its interval
// excludes 1.0×, and placing it against 1.2× only where its interval
// excludes 1.2×.
func (b *builder) saysRatios(load, num, den string, conns []string, lc []*Cell) {
	best, bestAt := paired{}, ""
	lo, hi := math.Inf(1), math.Inf(-1)
	var under, over, open, unresolved, measured []string
	for _, cn := range conns {
		r := pairedAt(lc, num, den, cn, "req/s")
		if len(r.Pairs) == 0 {
			continue
		}
		measured = append(measured, cn)
		lo, hi = math.Min(lo, r.S.Center), math.Max(hi, r.S.Center)
		if r.vs(1) == 0 {
			unresolved = append(unresolved, cn)
		} else if bestAt == "" || r.S.Center > best.S.Center {
			best, bestAt = r, cn
		}
		switch r.vs(1.2) {
		case -1:
			under = append(under, cn)
		case 1:
			over = append(over, cn)
		default:
			open = append(open, cn)
		}
	}
	if len(measured) == 0 {
		return
	}
	b.say("%s: the %s/%s req/s ratio runs from %s to %s over %s.", load, num, den, fmtRatio(lo), fmtRatio(hi), connList(measured))
	if bestAt != "" {
		f := find(lc, "model", num, "conns", bestAt)
		n := find(lc, "model", den, "conns", bestAt)
		b.say("%s: of the ratios that differ from 1.0×, the largest is at %s connections: %s (%s vs %s req/s), with %s vs %s of server CPU per request.",
			load, bestAt, best, fmtRate(median(f, "req/s")), fmtRate(median(n, "req/s")), fmtNs(median(f, "cpu-ns/op")), fmtNs(median(n, "cpu-ns/op")))
	}
	if len(unresolved) > 0 {
		b.say("%s: the %s/%s ratio is not resolved at %s: its 95%% interval includes 1.0× (more rounds, or a quieter machine, would tell).", load, num, den, connList(unresolved))
	}
	switch {
	case len(over) == len(measured):
		b.say("%s: the %s/%s ratio stays at or above 1.2× at every connection count measured.", load, num, den)
	default:
		if len(under) > 0 {
			b.say("%s: the %s/%s ratio is below 1.2× at %s.", load, num, den, connList(under))
		}
		if len(open) > 0 {
			b.say("%s: whether the %s/%s ratio reaches 1.2× is not resolved at %s.", load, num, den, connList(open))
		}
	}
}
