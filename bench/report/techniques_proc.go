package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/poolbench/poolbench/servers/app"
)

// techniquesProc: what each app switch buys under real sockets — the
// process cells with switches off (make bench runs them at one keep-alive
// connection count), each variant against all switches on, per model:
// req/s, server CPU per request and server allocations per request.
func techniquesProc(b *builder) {
	s := &Section{ID: "techniques-proc", Title: "What each technique buys under real sockets",
		Intro: "Process layer, keep-alive, app route: the server with each switch off alone (and all off) against all on, " +
			"server and load in separate pinned processes. CPU and allocations are the server's own, per request; Δ is against all on."}
	cells := b.r.Where(".name:Proc /client:driver /load:keepalive /route:app")
	for _, cn := range values(cells, "conns") {
		cc := selectKey(cells, "conns", cn)
		vs := variantsOf(cc)
		if len(vs) < 2 || !slices.Contains(vs, app.AllOn) {
			continue
		}
		models := b.models(cc)
		series := seriesFor(models)
		var cats []string
		for _, v := range vs {
			cats = append(cats, variantLabel(v))
		}
		t := Table{Caption: cn + " connections",
			Header: []string{"model", "variant", "req/s", "Δ req/s", "server CPU/req", "Δ CPU/req", "allocs/req", "Δ allocs/req"}}
		for i, m := range models {
			base := findVariant(cc, m, app.AllOn)
			var deltas []string
			for _, v := range vs {
				c := findVariant(cc, m, v)
				rps, cpu, al := median(c, "req/s"), median(c, "cpu-ns/op"), median(c, "allocs/op")
				brps, bcpu, bal := median(base, "req/s"), median(base, "cpu-ns/op"), median(base, "allocs/op")
				t.Rows = append(t.Rows, []string{m, variantLabel(v), fmtRate(rps), fmtPct(rps, brps), fmtNs(cpu), fmtPct(cpu, bcpu), fmtNum(al), fmtDiff(al, bal)})
				series[i].Y = append(series[i].Y, nz(rps))
				if v != app.AllOn && c != nil {
					deltas = append(deltas, fmt.Sprintf("%s %s req/s (%s allocs/req)", variantLabel(v), fmtPct(rps, brps), fmtDiff(al, bal)))
				}
			}
			if base != nil && len(deltas) > 0 {
				b.say("Under real sockets (process layer, keep-alive, %s connections), against all switches on %s: %s.", cn, m, strings.Join(deltas, ", "))
			}
		}
		s.Tables = append(s.Tables, t)
		c, err := barChart("techniques-proc-"+cn, "req/s by variant, process layer (keep-alive, conns="+cn+")", "req/s", cats, series)
		b.chart(s, c, err)
	}
	if len(s.Tables) == 0 {
		b.missing("%s: no process keep-alive cells with switches off (make bench runs them: VARIANTS=default, at PROC_VARIANT_CONNS connections)", s.Title)
		return
	}
	b.add(s)
}

// variantOf is the cell's app variant, if its switch keys are all on or off.
func variantOf(c *Cell) (app.Variant, bool) {
	v := app.AllOn
	for i, k := range app.SwitchKeys() {
		switch c.Keys[k] {
		case "on":
		case "off":
			v = v.With(i, false)
		default:
			return v, false
		}
	}
	return v, true
}

// variantsOf lists the variants among cells: all on, each switch off alone
// and all off first (app.OneOff), then any other in app.Variants order.
func variantsOf(cells []*Cell) []app.Variant {
	have := map[app.Variant]bool{}
	for _, c := range cells {
		if v, ok := variantOf(c); ok {
			have[v] = true
		}
	}
	var out []app.Variant
	for _, v := range append(app.OneOff(), app.Variants()...) {
		if have[v] && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// findVariant is model m's cell with variant v.
func findVariant(cells []*Cell, m string, v app.Variant) *Cell {
	for _, c := range cells {
		if got, ok := variantOf(c); ok && got == v && c.Keys["model"] == m {
			return c
		}
	}
	return nil
}

// variantLabel names a variant by what is off: "all on", "pool off",
// "pool+conv off", "all off".
func variantLabel(v app.Variant) string {
	switch v {
	case app.AllOn:
		return "all on"
	case app.AllOff():
		return "all off"
	}
	var off []string
	for i, k := range app.SwitchKeys() {
		if !v.On(i) {
			off = append(off, k)
		}
	}
	return strings.Join(off, "+") + " off"
}

// fmtPct is v's change from base in percent, e.g. "-3.1%".
func fmtPct(v, base float64) string {
	if math.IsNaN(v) || math.IsNaN(base) || base == 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f%%", 100*(v-base)/base)
}

// fmtDiff is v's difference from base, e.g. "+4" or "+0.00012".
func fmtDiff(v, base float64) string {
	if math.IsNaN(v) || math.IsNaN(base) {
		return "—"
	}
	d := v - base
	if d >= 0 {
		return "+" + fmtNum(d)
	}
	return fmtNum(d)
}
