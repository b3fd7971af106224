package report

import "strings"

// memLabels are the mem= values, as the idle table shows them.
var memLabels = map[string]string{"reduce": "on", "default": "off"}

// idle: server RSS, live heap and goroutines per idle keep-alive
// connection, per model and ReduceMemoryUsage setting.
func idle(b *builder) {
	s := &Section{ID: "idle", Title: "Memory per idle connection",
		Intro: "N keep-alive connections opened, one request each, then held idle; server RSS and live heap (after a GC) per connection."}
	cells := b.r.Where(".name:Proc /load:idle")
	if len(cells) == 0 {
		b.missing("%s: no idle cells", s.Title)
		return
	}
	conns := values(cells, "conns")
	top := conns[len(conns)-1]
	models := b.models(cells)
	t := Table{Header: []string{"model", "ReduceMemoryUsage", "conns", "RSS/conn", "heap/conn", "goroutines/conn"}}
	var cats []string
	rss := Series{Name: "RSS KiB/conn"}
	heap := Series{Name: "heap KiB/conn"}
	for _, m := range models {
		for _, mem := range values(cells, "mem") {
			for _, cn := range conns {
				c := find(cells, "model", m, "mem", mem, "conns", cn)
				if c == nil {
					continue
				}
				t.Rows = append(t.Rows, []string{m, memLabels[mem], cn,
					fmtBytes(median(c, "rss-bytes/conn")), fmtBytes(median(c, "heap-bytes/conn")), fmtNum(median(c, "goroutines/conn"))})
				if cn == top {
					cats = append(cats, strings.TrimSuffix(m+" "+mem, " default"))
					rss.Y = append(rss.Y, median(c, "rss-bytes/conn")/1024)
					heap.Y = append(heap.Y, median(c, "heap-bytes/conn")/1024)
				}
			}
		}
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("idle-memory", "server memory per idle connection (conns="+top+")", "KiB", cats, []Series{rss, heap})
	b.chart(s, c, err)
	var parts, reduced []string
	for i, m := range models {
		c := find(cells, "model", m, "mem", "default", "conns", top)
		if c == nil {
			continue
		}
		v := fmtBytes(median(c, "rss-bytes/conn"))
		if i == 0 {
			parts = append(parts, v+" of RSS per connection for "+m)
		} else {
			parts = append(parts, v+" for "+m)
		}
		if r := find(cells, "model", m, "mem", "reduce", "conns", top); r != nil {
			reduced = append(reduced, "ReduceMemoryUsage brings "+m+" to "+fmtBytes(median(r, "rss-bytes/conn")))
		}
	}
	if len(parts) > 1 {
		b.say("Idle connections (%s): %s%s.", top, strings.Join(parts, ", "), strings.Join(append([]string{""}, reduced...), "; "))
	}
	b.add(s)
}
