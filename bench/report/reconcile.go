package report

import (
	"fmt"
	"math"
	"strings"
)

// layers are the instruments the reconciliation lines up, from the server
// alone to the whole machine, each with what it adds to the one above.
var layers = []struct{ name, filter, adds string }{
	{"fakeconn", ".name:Server /transport:fakeconn", "the server alone: requests replayed from memory, no client, no kernel (fasthttp's own harness)"},
	{"inmem", ".name:Server /transport:inmem", "+ poolbench's client in the same process and GOMAXPROCS, over in-memory pipes"},
	{"tcp", ".name:Server /transport:tcp", "+ loopback TCP: system calls and the kernel's socket work on both ends, still one process"},
	{"process, driver", ".name:Proc /client:driver", "+ server and load in separate processes pinned to their own CPUs; CPU is the server's alone"},
	{"process, wrk", ".name:Proc /client:wrk", "the same server driven by wrk instead of poolbench's driver"},
}

// reconcile adds one table per load and connection count that at least two
// layers measured with the baseline and another model: each layer's req/s
// ratio, the costs per request behind it, and the step from the layer above.
func (b *builder) reconcile(s *Section) {
	type key struct{ load, conns string }
	found := map[key]map[int][]*Cell{}
	var order []key
	for i, l := range layers {
		for _, c := range b.r.Where(l.filter + " /route:app " + allOn()) {
			k := key{c.Keys["load"], c.Keys["conns"]}
			if t, ok := loadTraits(k.load); !ok || !t.Closed || t.PerConn || t.FixedServer {
				continue // the layers compare closed loops of requests
			}
			if found[k] == nil {
				found[k] = map[int][]*Cell{}
				order = append(order, k)
			}
			found[k][i] = append(found[k][i], c)
		}
	}
	for _, k := range order {
		byLayer := found[k]
		models := b.models(append(byLayer[0], byLayer[3]...))
		others, ok := b.others(models)
		if !ok || len(others) == 0 || len(byLayer) < 2 || byLayer[3] == nil {
			continue
		}
		t := Table{Caption: fmt.Sprintf("Reconciliation: %s at %s connections, app route", k.load, k.conns), Header: []string{"layer"}}
		for _, m := range models {
			t.Header = append(t.Header, m+" req/s")
		}
		for _, m := range others {
			t.Header = append(t.Header, m+"/"+b.baseline)
		}
		t.Header = append(t.Header, "cost per request", "step from the layer above", "what the layer adds")
		var said []string
		prev := map[string]float64{}
		for i, l := range layers {
			cells := byLayer[i]
			if cells == nil {
				continue
			}
			row := []string{l.name}
			for _, m := range models {
				row = append(row, fmtRate(median(find(cells, "model", m), "req/s")))
			}
			var steps []string
			for _, m := range others {
				r := median(find(cells, "model", m), "req/s") / median(find(cells, "model", b.baseline), "req/s")
				row = append(row, fmtRatio(r))
				if p, ok := prev[m]; ok && !math.IsNaN(r) {
					steps = append(steps, fmt.Sprintf("%s ×%.2f", m+"/"+b.baseline, r/p))
				}
				if !math.IsNaN(r) {
					prev[m] = r
					said = append(said, fmt.Sprintf("%s %s", fmtRatio(r), l.name))
				}
			}
			step := strings.Join(steps, ", ")
			if step == "" {
				step = "—"
			}
			t.Rows = append(t.Rows, append(row, b.layerCost(cells, models), step, l.adds))
		}
		s.Tables = append(s.Tables, t)
		b.say("Reconciliation, %s at %s connections (app route): the %s/%s req/s ratio is %s.", k.load, k.conns, strings.Join(others, ","), b.baseline, strings.Join(said, ", "))
	}
}

// layerCost is the cost per request a layer measured, per model: wall
// time and allocations in-process (at -cpu 1 the wall time is CPU time
// of server and client together), the server's CPU split into user and
// kernel and the load's CPU in the process layer.
func (b *builder) layerCost(cells []*Cell, models []string) string {
	var f []string
	for _, m := range models {
		c := find(cells, "model", m)
		if c == nil {
			continue
		}
		if c.Base == "Proc" {
			f = append(f, fmt.Sprintf("%s: server %s (user %s, sys %s), %s syscalls, load %s", m,
				fmtNs(median(c, "cpu-ns/op")), fmtNs(median(c, "user-ns/op")), fmtNs(median(c, "sys-ns/op")),
				fmtNum(median(c, "syscr/op")+median(c, "syscw/op")), fmtNs(median(c, "load-user-ns/op")+median(c, "load-sys-ns/op"))))
			continue
		}
		f = append(f, fmt.Sprintf("%s: %s, %s allocs", m, fmtNs(median(c, "ns/op")), fmtNum(median(c, "allocs/op"))))
	}
	return strings.Join(f, "; ")
}
