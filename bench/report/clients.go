package report

import "math"

// clients: each client model against the same server, process layer (or
// in-process when the run has none): req/s, p99, dials and TIME_WAIT.
func clients(b *builder) {
	s := &Section{ID: "clients", Title: "Client connection pools",
		Intro: "The same server driven through each client model; dials counted at the dialer."}
	cells := b.r.Where(".name:Proc /load:client")
	if len(cells) == 0 {
		cells = b.r.Where(".name:Client")
		s.Intro += " In-process (no process-layer client cells in this run)."
	}
	if len(cells) == 0 {
		b.missing("%s: no client cells", s.Title)
		return
	}
	t := Table{Header: []string{"client", "conns", "req/s", "p99", "dials/1k req", "TIME_WAIT"}}
	var cats []string
	d := Series{Name: "dials per 1,000 requests"}
	for _, cl := range values(cells, "client") {
		for _, cn := range values(cells, "conns") {
			c := find(cells, "client", cl, "conns", cn)
			if c == nil {
				continue
			}
			t.Rows = append(t.Rows, []string{cl, cn, fmtRate(median(c, "req/s")), fmtNs(median(c, "p99-ns")), fmtNum(median(c, "dials/1k-req")), fmtNum(median(c, "timewait-socks"))})
			cats = append(cats, cl+" "+cn)
			d.Y = append(d.Y, nz(median(c, "dials/1k-req")))
		}
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("client-dials", "dials per 1,000 requests", "dials", cats, []Series{d})
	b.chart(s, c, err)
	b.saysDials(cells)
	b.add(s)
}

// saysDials names, at the largest caller count, the client that dials most
// per 1,000 requests and the one that dials least.
func (b *builder) saysDials(cells []*Cell) {
	conns := values(cells, "conns")
	cn := conns[len(conns)-1]
	most, least := "", ""
	hi, lo := math.Inf(-1), math.Inf(1)
	for _, cl := range values(cells, "client") {
		v := median(find(cells, "client", cl, "conns", cn), "dials/1k-req")
		if math.IsNaN(v) {
			continue
		}
		if v > hi {
			most, hi = cl, v
		}
		if v < lo {
			least, lo = cl, v
		}
	}
	switch {
	case most == "":
	case fmtNum(hi) == fmtNum(lo):
		b.say("Clients (%s callers): every client dials %s times per 1,000 requests.", cn, fmtNum(hi))
	default:
		b.say("Clients (%s callers): %s dials most, %s times per 1,000 requests; %s least, %s.", cn, most, fmtNum(hi), least, fmtNum(lo))
	}
}
