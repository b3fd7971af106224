package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/lttb"

	"github.com/poolbench/poolbench/bench/runner"
)

// bursty: open-loop latency percentiles by silence between bursts, and the
// latency over time of the longest silence from vegeta's raw results.
func bursty(b *builder) {
	s := &Section{ID: "bursty", Title: "Bursty load: latency from the intended send time",
		Intro: "Open loop (vegeta, square-wave pacer): bursts of requests, then silence. The client drops idle connections, so every burst opens new ones; silences longer than a worker pool's idle-worker timeout (MaxIdleWorkerDuration) let its idle workers expire. " +
			"Each request's trace splits its latency into the pacer's lateness (picked up after its intended time), the wait for a connection, write→response (loopback and the server) and the body read; the tables group the requests of the longest silence by latency band (the modes of their distribution) and by position in the burst."}
	cells := b.r.Where(".name:Proc /load:bursty")
	if len(cells) == 0 {
		b.missing("%s: no bursty cells", s.Title)
		return
	}
	models, gaps := b.models(cells), values(cells, "gap")
	quantiles := []struct{ label, unit string }{{"p50", "p50-ns"}, {"p99", "p99-ns"}, {"p99.9", "p999-ns"}}
	t := Table{Header: []string{"silence"}}
	for _, m := range models {
		for _, q := range quantiles {
			t.Header = append(t.Header, m+" "+q.label)
		}
	}
	var cats []string
	series := seriesFor(models)
	for _, g := range gaps {
		row := []string{g}
		for _, q := range quantiles {
			cats = append(cats, strings.ReplaceAll(q.label, ".", "")+" "+g)
		}
		for i, m := range models {
			c := find(cells, "model", m, "gap", g)
			for _, q := range quantiles {
				v := median(c, q.unit)
				row = append(row, fmtNs(v))
				series[i].Y = append(series[i].Y, v/1e6)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("bursty-percentiles", "bursty latency percentiles (ms)", "ms", cats, series)
	b.chart(s, c, err)
	g := gaps[len(gaps)-1]
	var over []Series
	for _, m := range models {
		cell := find(cells, "model", m, "gap", g)
		if cell == nil {
			continue
		}
		sr, err := readVegeta(vegetaPath(b.r, cell), m)
		if err != nil {
			b.missing("latency over time for model=%s gap=%s: %v", m, g, err)
			continue
		}
		over = append(over, sr)
	}
	if len(over) > 0 {
		c, err := scatterChart("bursty-over-time", "latency over time, silence "+g+" (ms)", "seconds since the first burst", "ms", over)
		b.chart(s, c, err)
	}
	b.burstyBands(s, cells, models, g) // bursty_bands.go
	base := find(cells, "model", models[0], "gap", g)
	for _, m := range models[1:] {
		b.say("Bursts (silence %s): p99 %s for %s vs %s for %s.",
			g, fmtNs(median(base, "p99-ns")), models[0], fmtNs(median(find(cells, "model", m, "gap", g), "p99-ns")), m)
	}
	b.add(s)
}

// cellPath rebuilds a process cell's path from its keys, in the runner's order.
func cellPath(c *Cell) string {
	var parts []string
	for _, k := range runner.Keys() {
		parts = append(parts, k+"="+c.Keys[k])
	}
	return strings.Join(parts, "/")
}

// vegetaPath is where the run keeps a bursty cell's raw vegeta results.
func vegetaPath(r *Run, c *Cell) string {
	return filepath.Join(r.Dir, "vegeta", cellPath(c)+".vegeta.bin")
}

// readVegeta reads raw vegeta results into a latency-over-time series.
func readVegeta(path, name string) (Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return Series{}, err
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	s := Series{Name: name}
	var first time.Time
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			break
		}
		if first.IsZero() {
			first = res.Timestamp
		}
		s.X = append(s.X, res.Timestamp.Sub(first).Seconds())
		s.Y = append(s.Y, float64(res.Latency)/1e6)
	}
	if len(s.X) == 0 {
		return s, fmt.Errorf("%s holds no vegeta results", path)
	}
	return downsample(s, 800)
}

// downsample keeps n points of a series with vegeta's LTTB, which preserves
// the shape (the spikes) that a plot of every point would show.
func downsample(s Series, n int) (Series, error) {
	i := 0
	pts, err := lttb.Downsample(len(s.X), n, func(count int) ([]lttb.Point, error) {
		out := make([]lttb.Point, 0, count)
		for ; i < len(s.X) && len(out) < count; i++ {
			out = append(out, lttb.Point{X: s.X[i], Y: s.Y[i]})
		}
		return out, nil
	})
	if err != nil {
		return s, err
	}
	d := Series{Name: s.Name}
	for _, p := range pts {
		d.X, d.Y = append(d.X, p.X), append(d.Y, p.Y)
	}
	return d, nil
}
