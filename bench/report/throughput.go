package report

import (
	"math"
	"strconv"
	"strings"

	"github.com/poolbench/poolbench/servers/app"
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
	for _, load := range []string{"keepalive", "shortlived"} {
		lc := selectKey(cells, "load", load)
		if len(lc) == 0 {
			b.missing("%s: no %s cells (%s layer)", s.Title, load, layer)
			continue
		}
		models, conns := b.models(lc), values(lc, "conns")
		others, _ := b.others(models)
		base := b.baseline
		t := Table{Caption: load, Header: []string{"conns"}}
		for _, m := range models {
			t.Header = append(t.Header, m+" req/s", m+" p99", m+" server CPU/req")
		}
		for _, m := range others {
			t.Header = append(t.Header, m+"/"+base)
		}
		series := seriesFor(models)
		for _, cn := range conns {
			row := []string{cn}
			rps := map[string]float64{}
			for i, m := range models {
				c := find(lc, "model", m, "conns", cn)
				v := median(c, "req/s")
				rps[m] = v
				row = append(row, fmtRate(v), fmtNs(median(c, "p99-ns")), fmtNs(median(c, "cpu-ns/op")))
				if x, err := strconv.ParseFloat(cn, 64); err == nil && !math.IsNaN(v) {
					series[i].X = append(series[i].X, x)
					series[i].Y = append(series[i].Y, v)
				}
			}
			for _, m := range others {
				row = append(row, fmtRatio(rps[m]/rps[base]))
			}
			t.Rows = append(t.Rows, row)
		}
		s.Tables = append(s.Tables, t)
		c, err := lineChart("throughput-"+load, "req/s by connections, "+load, "connections", "req/s", true, series)
		b.chart(s, c, err)
		if layer != "Proc" {
			continue
		}
		for _, m := range others {
			if load == "keepalive" {
				b.saysKeepalive(m, base, conns, lc)
			} else {
				b.saysShortlived(m, base, conns, lc)
			}
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

// ratio is base's median of unit over m's at conns.
// ratio is num's median of unit over den's at conns connections.
func ratio(lc []*Cell, num, den, conns, unit string) float64 {
	return median(find(lc, "model", num, "conns", conns), unit) / median(find(lc, "model", den, "conns", conns), unit)
}

func (b *builder) saysKeepalive(num, den string, conns []string, lc []*Cell) {
	best, bestAt := 0.0, ""
	var under []string
	for _, cn := range conns {
		r := ratio(lc, num, den, cn, "req/s")
		if math.IsNaN(r) {
			continue
		}
		if r > best {
			best, bestAt = r, cn
		}
		if r < 1.2 {
			under = append(under, cn)
		}
	}
	if bestAt == "" {
		return
	}
	f := find(lc, "model", num, "conns", bestAt)
	n := find(lc, "model", den, "conns", bestAt)
	b.say("Keep-alive: the %s/%s throughput ratio is largest at %s connections: %s (%s vs %s req/s), with %s vs %s of server CPU per request.",
		num, den, bestAt, fmtRatio(best), fmtRate(median(f, "req/s")), fmtRate(median(n, "req/s")), fmtNs(median(f, "cpu-ns/op")), fmtNs(median(n, "cpu-ns/op")))
	if len(under) > 0 {
		b.say("Keep-alive: the %s/%s ratio is below 1.2× at %s connection(s).", num, den, strings.Join(under, ", "))
	} else {
		b.say("Keep-alive: the %s/%s ratio stays at or above 1.2× at every connection count measured.", num, den)
	}
}

func (b *builder) saysShortlived(num, den string, conns []string, lc []*Cell) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, cn := range conns {
		if r := ratio(lc, num, den, cn, "req/s"); !math.IsNaN(r) {
			lo, hi = math.Min(lo, r), math.Max(hi, r)
		}
	}
	if !math.IsInf(lo, 0) {
		b.say("Short-lived connections (one request each, closed by the client): the %s/%s req/s ratio is between %s and %s.",
			num, den, fmtRatio(lo), fmtRatio(hi))
	}
}
