package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// why: where each request's cost goes, from the process layer's cost units
// (issue 13): the server's user, GC and system CPU, the load's own CPU, the
// system calls, context switches and goroutines per request, and the
// kernel's TCP counters over the window. Then the short-lived tail read
// against those counters, and the reconciliation of every layer's ratio.
// Runs made before the cost units existed have no cost cells: the section
// is left out without a note, as the reconciliation is when the run has no
// layer to compare.
func why(b *builder) {
	s := &Section{ID: "why", Title: "Why: cost per request",
		Intro: "Process layer, app route, all switches on. Each bar is one model driven by one client (poolbench's driver or wrk): the server's user CPU less GC, its GC CPU and its system (kernel) CPU per request, then the load process's own user and system CPU per request. " +
			"Server counters come from the server's /proc and runtime/metrics at the window's edges, the load's from its own /proc, TCP counters from /proc/net/netstat and /proc/net/snmp (the whole network namespace: other processes' connections count too)."}
	cells := withUnit(b.r.Where(".name:Proc /route:app "+allOn()), "user-ns/op")
	if len(cells) == 0 {
		return
	}
	for _, load := range values(cells, "load") {
		lc := selectKey(cells, "load", load)
		t := Table{Caption: load + ": cost per request", Header: []string{"conns", "model", "client", "req/s", "p99",
			"server user", "GC", "server sys", "syscalls", "ctx switches", "goroutines", "sched p99", "load CPU", "TCP overflows/drops/SYN retr/retr segs/resets"}}
		for _, cn := range values(lc, "conns") {
			cc := selectKey(lc, "conns", cn)
			var cats []string
			stacks := make([]Series, len(costStack))
			for i, part := range costStack {
				stacks[i].Name = part.name
			}
			for _, m := range b.models(cc) {
				for _, cl := range values(selectKey(cc, "model", m), "client") {
					c := find(cc, "model", m, "client", cl)
					cats = append(cats, m+" "+cl)
					for i, part := range costStack {
						stacks[i].Y = append(stacks[i].Y, nz(part.value(c))/1e3)
					}
					t.Rows = append(t.Rows, []string{cn, m, cl, fmtRate(median(c, "req/s")), fmtNs(median(c, "p99-ns")),
						fmtNs(median(c, "user-ns/op")), fmtCost(median(c, "gc-cpu-ns/op")), fmtNs(median(c, "sys-ns/op")),
						fmtNum(median(c, "syscr/op") + median(c, "syscw/op")), fmtNum(median(c, "vcsw/op") + median(c, "ivcsw/op")),
						fmtNum(median(c, "goroutines/op")), fmtNs(median(c, "sched-p99-ns")),
						fmtNs(median(c, "load-user-ns/op") + median(c, "load-sys-ns/op")), tcpCounters(c)})
				}
			}
			ch, err := stackedBarChart("why-"+load+"-"+cn, "CPU per request, "+load+", "+cn+" connections", "µs per request", cats, stacks)
			b.chart(s, ch, err)
			b.saysWhy(load, cn, selectKey(cc, "client", "driver"))
		}
		s.Tables = append(s.Tables, t)
	}
	b.saysTail(selectKey(cells, "client", "driver"))
	b.saysDriverVsWrk(cells)
	b.reconcile(s)
	b.add(s)
}

// costStack are the parts of a bar, bottom to top, in ns per request.
var costStack = []struct {
	name  string
	value func(*Cell) float64
}{
	{"server user (less GC)", func(c *Cell) float64 {
		return math.Max(0, median(c, "user-ns/op")-nz(median(c, "gc-cpu-ns/op")))
	}},
	{"server GC", func(c *Cell) float64 { return median(c, "gc-cpu-ns/op") }},
	{"server sys", func(c *Cell) float64 { return median(c, "sys-ns/op") }},
	{"load user", func(c *Cell) float64 { return median(c, "load-user-ns/op") }},
	{"load sys", func(c *Cell) float64 { return median(c, "load-sys-ns/op") }},
}

// withUnit keeps the cells that have samples of unit.
func withUnit(cells []*Cell, unit string) []*Cell {
	var out []*Cell
	for _, c := range cells {
		if len(c.Values[unit]) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// tcpUnits are the kernel's TCP counters a line carries, in table order.
var tcpUnits = []string{"listen-overflows", "listen-drops", "syn-retrans", "retrans-segs", "out-rsts"}

func tcpCounters(c *Cell) string {
	var f []string
	for _, u := range tcpUnits {
		f = append(f, fmtNum(median(c, u)))
	}
	return strings.Join(f, "/")
}

// saysWhy compares each model with the baseline at one load and connection
// count, driver cells only: user, GC and kernel time, system calls and
// goroutines per request, and which part holds most of the difference.
func (b *builder) saysWhy(load, conns string, cc []*Cell) {
	others, ok := b.others(b.models(cc))
	if !ok {
		return
	}
	base := find(cc, "model", b.baseline)
	for _, m := range others {
		c := find(cc, "model", m)
		du := median(base, "user-ns/op") - median(c, "user-ns/op")
		ds := median(base, "sys-ns/op") - median(c, "sys-ns/op")
		if math.IsNaN(du) || math.IsNaN(ds) {
			continue
		}
		where := "user time"
		if math.Abs(ds) > math.Abs(du) {
			where = "kernel time"
		}
		b.say("Why, %s at %s connections: %s spends %s of user CPU per request (%s of it GC) and %s in the kernel; %s spends %s (%s GC) and %s. "+
			"System calls per request %s vs %s, goroutines created per request %s vs %s: most of the %s of server CPU between them is %s.",
			load, conns, b.baseline, fmtNs(median(base, "user-ns/op")), fmtCost(median(base, "gc-cpu-ns/op")), fmtNs(median(base, "sys-ns/op")),
			m, fmtNs(median(c, "user-ns/op")), fmtCost(median(c, "gc-cpu-ns/op")), fmtNs(median(c, "sys-ns/op")),
			fmtNum(median(base, "syscr/op")+median(base, "syscw/op")), fmtNum(median(c, "syscr/op")+median(c, "syscw/op")),
			fmtNum(median(base, "goroutines/op")), fmtNum(median(c, "goroutines/op")), fmtNs(du+ds), where)
	}
}

// saysTail reads the short-lived tail at the largest connection count
// against the kernel's counters: an accept queue that overflowed shows as
// listen overflows or drops and SYN retransmits (a client then waits ≥ 1 s);
// without them, the time is spent in the processes, and the server's
// scheduling latency says how much of it waiting to run.
func (b *builder) saysTail(cells []*Cell) {
	var sl []*Cell // the first one-request-per-connection workload's cells
	for _, l := range values(cells, "load") {
		if t, ok := loadTraits(l); ok && t.Closed && t.RequestsPerConn == 1 {
			sl = selectKey(cells, "load", l)
			break
		}
	}
	conns := values(sl, "conns")
	if len(conns) == 0 {
		return
	}
	cn := conns[len(conns)-1]
	cc := selectKey(sl, "conns", cn)
	var parts []string
	drops, loadShare := 0.0, 1.0
	for _, m := range b.models(cc) {
		c := find(cc, "model", m)
		p99, sched := median(c, "p99-ns"), median(c, "sched-p99-ns")
		loadSched, hasLoad := c.Median("load-sched-p99-ns")
		drops += nz(median(c, "listen-overflows")) + nz(median(c, "listen-drops")) + nz(median(c, "syn-retrans"))
		// A closed loop keeps conns requests in flight: by Little's law
		// the mean latency is conns over the throughput.
		little := 0.0
		if n, err := strconv.ParseFloat(cn, 64); err == nil {
			little = n / median(c, "req/s") * 1e9
		}
		load := ""
		if hasLoad {
			load = fmt.Sprintf(", the load's own scheduling latency p99 %s (%.0f%% of p99)", fmtNs(loadSched), 100*loadSched/p99)
			loadShare = min(loadShare, loadSched/p99)
		} else {
			loadShare = 0
		}
		parts = append(parts, fmt.Sprintf("%s p99 %s (%.1f× the mean of %s that %s requests in flight at %s req/s imply), server scheduling latency p99 %s (%.0f%% of p99)%s, TCP counters %s",
			m, fmtNs(p99), p99/little, fmtNs(little), cn, fmtRate(median(c, "req/s")), fmtNs(sched), 100*sched/p99, load, tcpCounters(c)))
	}
	verdict := "no listen overflow, listen drop or SYN retransmit in the window: the accept queue did not overflow and no client waited for a SYN timeout, so the tail is queueing behind the other connections in the processes (the scheduling latency is the part of it the server's goroutines spent runnable, not running)"
	if loadShare >= 0.5 {
		verdict = "no listen overflow, listen drop or SYN retransmit in the window, and the server's goroutines waited little: the tail is in the load, whose goroutines (one per connection, on one CPU) waited runnable for most of it — the load's scheduler serves its connections unevenly, so a few requests wait many rounds"
	}
	if drops > 0 {
		verdict = "the accept queue overflowed (listen overflows/drops) and SYNs were retransmitted: those clients waited at least the 1 s SYN timeout, which is the tail"
	}
	b.say("Short-lived tail at %s connections (TCP counters as overflows/drops/SYN retransmits/retransmitted segments/resets): %s. %s.",
		cn, strings.Join(parts, "; "), strings.ToUpper(verdict[:1])+verdict[1:])
}

// stackedBarChart draws one bar per category with the series stacked on
// each other, bottom first.
func stackedBarChart(id, title, y string, categories []string, stack []Series) (*Chart, error) {
	p := newPlot(title, "", y)
	p.Legend.Left = false
	w := min(vg.Points(280/float64(max(1, len(categories)))), vg.Points(40))
	var below *plotter.BarChart
	n := 0
	for i, s := range stack {
		vals := make(plotter.Values, len(categories))
		copy(vals, s.Y)
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", id, err)
		}
		bc.Color = palette[i%len(palette)]
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(s.Name, bc)
		n += len(s.Y)
	}
	p.NominalX(categories...)
	// Room above the tallest stack for the legend; a stacked bar's data
	// range is its own part, not the stack's top.
	top := 0.0
	for i := range categories {
		sum := 0.0
		for _, s := range stack {
			if i < len(s.Y) {
				sum += s.Y[i]
			}
		}
		top = math.Max(top, sum)
	}
	p.Y.Min, p.Y.Max = 0, top*1.5
	return render(p, id, title, n)
}

// fmtCost is fmtNs with a plain 0 for nothing spent.
func fmtCost(v float64) string {
	if v == 0 {
		return "0"
	}
	return fmtNs(v)
}

// saysDriverVsWrk compares poolbench's driver with wrk where both drove the
// same model at the same load and connections: req/s and the load's own
// CPU per request, and whether they agree within 10%.
func (b *builder) saysDriverVsWrk(cells []*Cell) {
	for _, load := range values(cells, "load") {
		lc := selectKey(cells, "load", load)
		for _, cn := range values(lc, "conns") {
			cc := selectKey(lc, "conns", cn)
			var parts []string
			agree, lighter := true, true
			for _, m := range b.models(cc) {
				d, w := find(cc, "model", m, "client", "driver"), find(cc, "model", m, "client", "wrk")
				if d == nil || w == nil {
					continue
				}
				rps := median(d, "req/s") / median(w, "req/s")
				cpu := (median(d, "load-user-ns/op") + median(d, "load-sys-ns/op")) / (median(w, "load-user-ns/op") + median(w, "load-sys-ns/op"))
				srv := median(d, "cpu-ns/op") / median(w, "cpu-ns/op")
				agree = agree && math.Abs(rps-1) <= 0.1 && math.Abs(cpu-1) <= 0.1
				lighter = lighter && cpu <= 1.1 && rps >= 0.9
				parts = append(parts, fmt.Sprintf("against %s the driver gets %s wrk's req/s and spends %s its CPU per request, with %s read calls per request to wrk's %s; the server's CPU per request under the driver is %s that under wrk",
					m, fmtRatio(rps), fmtRatio(cpu), fmtNum(median(d, "load-syscr/op")), fmtNum(median(w, "load-syscr/op")), fmtRatio(srv)))
			}
			if len(parts) == 0 {
				continue
			}
			verdict := "within 10% of each other"
			switch {
			case !agree && lighter:
				verdict = "NOT within 10% of each other: the driver is the lighter client (less of its own CPU per request than wrk); compare the server's CPU per request under each tool to see whether the server saw the same work"
			case !agree:
				verdict = "NOT within 10% of each other: the driver costs more than wrk, and where the load's CPU is the limit the server sees less load than wrk would give it"
			}
			b.say("Driver vs wrk, %s at %s connections: %s — %s.", load, cn, strings.Join(parts, "; "), verdict)
		}
	}
}
