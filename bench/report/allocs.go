package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolbench/poolbench/profiles"
	"github.com/poolbench/poolbench/servers/app"
)

// allocs: in-process allocations per request by variant and model, and the
// handler functions each switch removes allocations from (profiles).
func allocs(b *builder) {
	s := &Section{ID: "allocs", Title: "Allocations per request by variant",
		Intro: "In-process, in-memory transport, keep-alive, app route: allocs/op of client and server together (the client allocates nothing on keep-alive connections)."}
	cells := b.r.Where(".name:Server /transport:inmem /load:keepalive /route:app")
	if len(cells) == 0 {
		b.missing("%s: no in-process app cells", s.Title)
		return
	}
	conns := values(cells, "conns")
	cn := conns[len(conns)/2]
	models := b.models(cells)
	t := Table{Caption: "conns=" + cn, Header: append([]string{"variant"}, models...)}
	var cats []string
	series := seriesFor(models)
	for _, v := range app.OneOff() {
		row := []string{variantLabel(v)}
		ys := make([]float64, len(models))
		have := false
		for i, m := range models {
			ys[i] = median(findVariant(selectKey(cells, "conns", cn), m, v), "allocs/op")
			row = append(row, fmtNum(ys[i]))
			have = have || !math.IsNaN(ys[i])
		}
		if !have {
			continue
		}
		for i := range series {
			series[i].Y = append(series[i].Y, nz(ys[i]))
		}
		cats = append(cats, variantLabel(v))
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("allocs-variants", "allocs/request by variant (conns="+cn+")", "allocs/op", cats, series)
	b.chart(s, c, err)
	if len(models) > 1 {
		at := func(m string) string {
			return fmtNum(median(findVariant(selectKey(cells, "conns", cn), m, app.AllOn), "allocs/op"))
		}
		say := "Allocations (in-process, keep-alive): with every switch on, " + models[0] + " allocates " + at(models[0]) + " objects per request"
		for _, m := range models[1:] {
			say += " and " + m + " " + at(m)
		}
		b.say("%s.", say)
	}
	b.profileDiffs(s)
	b.add(s)
}

// profileDiffs adds the handler functions each switch removes allocations
// from, when the run has profiles.
func (b *builder) profileDiffs(s *Section) {
	dir := filepath.Join(b.r.Dir, "profiles")
	if _, err := os.Stat(dir); err != nil {
		b.missing("top functions per switch: no profiles/ in the run (poolbench bench -only profile -out %s)", b.r.Dir)
		return
	}
	cells, err := profiles.ReadCells(dir)
	if err != nil {
		b.missing("top functions per switch: %v", err)
		return
	}
	cmps, err := profiles.Compare(cells)
	if err != nil {
		b.missing("top functions per switch: %v", err)
		return
	}
	t := Table{Caption: "from the server-only profiles (profiles/profiles.md)", Header: []string{"switch", "model", "function", "allocs/request removed"}}
	for _, c := range cmps {
		if c.Key == "model" {
			continue
		}
		for i, ch := range c.HandlerDrops() {
			if i == 3 {
				break
			}
			t.Rows = append(t.Rows, []string{c.Key, c.To.Keys["model"], strings.TrimPrefix(ch.Name, profiles.HandlerPackage), fmtNum(ch.Drop())})
		}
	}
	if len(t.Rows) > 0 {
		s.Tables = append(s.Tables, t)
	}
}
