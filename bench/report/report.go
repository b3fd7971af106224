package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/lttb"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/profiles"
)

// Report is the rendered content, before it becomes markdown or HTML.
type Report struct {
	Title string
	// Env is the environment header: machine, pinning, versions.
	Env []KV
	// Says are the findings computed from the data.
	Says     []string
	Sections []*Section
	// Missing lists what the run lacks.
	Missing []string
}

// Section is one part of the report.
type Section struct {
	ID, Title, Intro string
	Tables           []Table
	Charts           []*Chart
}

// Table is a small table of formatted cells.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

var allOn = map[string]string{"pool": "on", "conv": "on", "reuse": "on"}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Build turns a run into a report. Sections without data are left out and
// named in Missing; charts that fail to render are named there too.
func Build(r *Run) *Report {
	rep := &Report{Title: "poolbench report: " + filepath.Base(r.Dir), Missing: append([]string{}, r.Missing...)}
	rep.env(r)
	b := &builder{r: r, rep: rep}
	b.throughput()
	b.bursty()
	b.allocs()
	b.idle()
	b.clients()
	b.scenarios()
	return rep
}

type builder struct {
	r   *Run
	rep *Report
}

func (b *builder) missing(format string, args ...any) {
	b.rep.Missing = append(b.rep.Missing, fmt.Sprintf(format, args...))
}

func (b *builder) add(s *Section) {
	if len(s.Tables) > 0 || len(s.Charts) > 0 {
		b.rep.Sections = append(b.rep.Sections, s)
	}
}

func (b *builder) chart(s *Section, c *Chart, err error) {
	if err != nil {
		b.missing("chart: %v", err)
		return
	}
	if c.Points > 0 {
		s.Charts = append(s.Charts, c)
	}
}

func (rep *Report) env(r *Run) {
	keys := []string{"commit", "date", "cpu", "num-cpu", "kernel", "go-version", "fasthttp-version"}
	for _, k := range keys {
		if v := r.EnvValue(k); v != "" {
			rep.Env = append(rep.Env, KV{k, v})
		}
	}
	if c := r.Select("Server", nil); len(c) > 0 {
		rep.Env = append(rep.Env, KV{"in-process layer", fmt.Sprintf("GOMAXPROCS %s, %s", c[0].Keys["gomaxprocs"], c[0].Keys["pinning"])})
	}
	if c := r.Select("Proc", nil); len(c) > 0 {
		k := c[0].Keys
		rep.Env = append(rep.Env, KV{"process layer", fmt.Sprintf("server on cpu %s with GOMAXPROCS %s, load on cpu %s with GOMAXPROCS %s (%s); window %s after a %s warm-up",
			k["server-cpus"], k["server-gomaxprocs"], k["load-cpus"], k["load-gomaxprocs"], k["pinning"], k["window"], k["warmup"])})
	}
}

// median returns the cell's median of unit, NaN if absent.
func median(c *Cell, unit string) float64 {
	if c == nil {
		return math.NaN()
	}
	v, ok := c.Median(unit)
	if !ok {
		return math.NaN()
	}
	return v
}

func find(cells []*Cell, kv ...string) *Cell {
next:
	for _, c := range cells {
		for i := 0; i+1 < len(kv); i += 2 {
			if c.Keys[kv[i]] != kv[i+1] {
				continue next
			}
		}
		return c
	}
	return nil
}

func (b *builder) throughput() {
	s := &Section{ID: "throughput", Title: "Throughput by connections",
		Intro: "Closed-loop load, app route, all switches on. Process layer: server and load in separate processes, each pinned to its own CPU; server CPU per request from the server's rusage."}
	cells := b.r.Select("Proc", with(allOn, "client", "driver", "route", "app"))
	base, connsKey := "Proc", "conns"
	if len(cells) == 0 {
		cells = b.r.Select("Server", with(allOn, "transport", "tcp", "route", "app"))
		base = "Server"
		s.Intro = "Closed-loop load, app route, all switches on, in-process over loopback TCP (no process layer in this run)."
	}
	for _, load := range []string{"keepalive", "shortlived"} {
		lc := []*Cell{}
		for _, c := range cells {
			if c.Keys["load"] == load {
				lc = append(lc, c)
			}
		}
		if len(lc) == 0 {
			b.missing("%s: no %s cells (%s layer)", s.Title, load, base)
			continue
		}
		models := values(lc, "model")
		conns := values(lc, connsKey)
		t := Table{Caption: load, Header: []string{"conns"}}
		for _, m := range models {
			t.Header = append(t.Header, m+" req/s", m+" p99", m+" server CPU/req")
		}
		if len(models) == 2 {
			t.Header = append(t.Header, models[0]+"/"+models[1])
		}
		var series []Series
		for _, m := range models {
			series = append(series, Series{Name: m})
		}
		for _, cn := range conns {
			row := []string{cn}
			var rps []float64
			for i, m := range models {
				c := find(lc, "model", m, connsKey, cn)
				v := median(c, "req/s")
				rps = append(rps, v)
				row = append(row, fmtRate(v), fmtNs(median(c, "p99-ns")), fmtNs(median(c, "cpu-ns/op")))
				if x, err := strconv.ParseFloat(cn, 64); err == nil && !math.IsNaN(v) {
					series[i].X = append(series[i].X, x)
					series[i].Y = append(series[i].Y, v)
				}
			}
			if len(models) == 2 {
				row = append(row, fmtRatio(rps[0]/rps[1]))
			}
			t.Rows = append(t.Rows, row)
		}
		s.Tables = append(s.Tables, t)
		c, err := lineChart("throughput-"+load, "req/s by connections, "+load, "connections", "req/s", true, series)
		b.chart(s, c, err)
		if base == "Proc" && load == "keepalive" && len(models) == 2 {
			b.saysRatio(models, conns, lc)
		}
		if base == "Proc" && load == "shortlived" && len(models) == 2 {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, cn := range conns {
				r := median(find(lc, "model", models[0], "conns", cn), "req/s") / median(find(lc, "model", models[1], "conns", cn), "req/s")
				if !math.IsNaN(r) {
					lo, hi = math.Min(lo, r), math.Max(hi, r)
				}
			}
			if !math.IsInf(lo, 0) {
				b.rep.Says = append(b.rep.Says, fmt.Sprintf("Short-lived connections (one request each, closed by the client): the %s/%s req/s ratio is between %s and %s.",
					models[0], models[1], fmtRatio(lo), fmtRatio(hi)))
			}
		}
	}
	b.add(s)
}

func (b *builder) saysRatio(models, conns []string, lc []*Cell) {
	best, bestAt := 0.0, ""
	var under []string
	for _, cn := range conns {
		f := find(lc, "model", models[0], "conns", cn)
		n := find(lc, "model", models[1], "conns", cn)
		r := median(f, "req/s") / median(n, "req/s")
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
	f := find(lc, "model", models[0], "conns", bestAt)
	n := find(lc, "model", models[1], "conns", bestAt)
	b.rep.Says = append(b.rep.Says, fmt.Sprintf("Keep-alive: the %s/%s throughput ratio is largest at %s connections: %s (%s vs %s req/s), with %s vs %s of server CPU per request.",
		models[0], models[1], bestAt, fmtRatio(best), fmtRate(median(f, "req/s")), fmtRate(median(n, "req/s")), fmtNs(median(f, "cpu-ns/op")), fmtNs(median(n, "cpu-ns/op"))))
	if len(under) > 0 {
		b.rep.Says = append(b.rep.Says, fmt.Sprintf("Keep-alive: the ratio is below 1.2× at %s connection(s).", strings.Join(under, ", ")))
	} else {
		b.rep.Says = append(b.rep.Says, "Keep-alive: the ratio stays at or above 1.2× at every connection count measured.")
	}
}

func (b *builder) bursty() {
	s := &Section{ID: "bursty", Title: "Bursty load: latency from the intended send time",
		Intro: "Open loop (vegeta, square-wave pacer): bursts of requests, then silence. The client drops idle connections, so every burst opens new ones; silences longer than fasthttp's MaxIdleWorkerDuration let its idle workers expire."}
	cells := b.r.Select("Proc", map[string]string{"load": "bursty"})
	if len(cells) == 0 {
		b.missing("%s: no bursty cells", s.Title)
		return
	}
	models, gaps := values(cells, "model"), values(cells, "gap")
	t := Table{Header: []string{"silence"}}
	for _, m := range models {
		t.Header = append(t.Header, m+" p50", m+" p99", m+" p99.9")
	}
	var cats []string
	series := make([]Series, len(models))
	for i, m := range models {
		series[i].Name = m
	}
	for _, g := range gaps {
		row := []string{g}
		for _, q := range []string{"p50", "p99", "p999"} {
			cats = append(cats, q+" "+g)
		}
		for i, m := range models {
			c := find(cells, "model", m, "gap", g)
			for _, q := range []string{"p50-ns", "p99-ns", "p999-ns"} {
				v := median(c, q)
				row = append(row, fmtNs(v))
				series[i].Y = append(series[i].Y, v/1e6)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("bursty-percentiles", "bursty latency percentiles (ms)", "ms", cats, series)
	b.chart(s, c, err)
	// Latency over time of the longest silence, from vegeta's raw results.
	g := gaps[len(gaps)-1]
	var over []Series
	for _, m := range models {
		cell := find(cells, "model", m, "gap", g)
		if cell == nil {
			continue
		}
		path := filepath.Join(b.r.Dir, "vegeta", cellPath(cell)+".vegeta.bin")
		sr, err := readVegeta(path, m)
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
	if len(models) == 2 {
		f := find(cells, "model", models[0], "gap", g)
		n := find(cells, "model", models[1], "gap", g)
		b.rep.Says = append(b.rep.Says, fmt.Sprintf("Bursts (silence %s): p99 %s for %s vs %s for %s.",
			g, fmtNs(median(f, "p99-ns")), models[0], fmtNs(median(n, "p99-ns")), models[1]))
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

var variantLabels = []struct{ label, pool, conv, reuse string }{
	{"all on", "on", "on", "on"}, {"pool off", "off", "on", "on"}, {"conv off", "on", "off", "on"},
	{"reuse off", "on", "on", "off"}, {"all off", "off", "off", "off"},
}

func (b *builder) allocs() {
	s := &Section{ID: "allocs", Title: "Allocations per request by variant",
		Intro: "In-process, in-memory transport, keep-alive, app route: allocs/op of client and server together (the client allocates nothing on keep-alive connections)."}
	cells := b.r.Select("Server", map[string]string{"transport": "inmem", "load": "keepalive", "route": "app"})
	if len(cells) == 0 {
		b.missing("%s: no in-process app cells", s.Title)
		return
	}
	conns := values(cells, "conns")
	cn := conns[len(conns)/2]
	models := values(cells, "model")
	t := Table{Caption: "conns=" + cn, Header: append([]string{"variant"}, models...)}
	var cats []string
	series := make([]Series, len(models))
	for i, m := range models {
		series[i].Name = m
	}
	for _, v := range variantLabels {
		row := []string{v.label}
		have := false
		for i, m := range models {
			c := find(cells, "model", m, "conns", cn, "pool", v.pool, "conv", v.conv, "reuse", v.reuse)
			a := median(c, "allocs/op")
			row = append(row, fmtNum(a))
			series[i].Y = append(series[i].Y, a)
			have = have || !math.IsNaN(a)
		}
		if !have {
			for i := range series {
				series[i].Y = series[i].Y[:len(series[i].Y)-1]
			}
			continue
		}
		cats = append(cats, v.label)
		t.Rows = append(t.Rows, row)
	}
	for i := range series {
		for j, y := range series[i].Y {
			if math.IsNaN(y) {
				series[i].Y[j] = 0
			}
		}
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("allocs-variants", "allocs/request by variant (conns="+cn+")", "allocs/op", cats, series)
	b.chart(s, c, err)
	if len(models) == 2 {
		f := find(cells, "model", models[0], "conns", cn, "pool", "on", "conv", "on", "reuse", "on")
		n := find(cells, "model", models[1], "conns", cn, "pool", "on", "conv", "on", "reuse", "on")
		b.rep.Says = append(b.rep.Says, fmt.Sprintf("Allocations (in-process, keep-alive): with every switch on, %s allocates %s objects per request and %s %s.",
			models[0], fmtNum(median(f, "allocs/op")), models[1], fmtNum(median(n, "allocs/op"))))
	}
	b.profileDiffs(s)
	b.add(s)
}

// profileDiffs adds the handler functions each switch removes allocations
// from, when the run has profiles.
func (b *builder) profileDiffs(s *Section) {
	dir := filepath.Join(b.r.Dir, "profiles")
	if _, err := os.Stat(dir); err != nil {
		b.missing("top functions per switch: no profiles/ in the run (make profile RUN_DIR=%s)", b.r.Dir)
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

func (b *builder) idle() {
	s := &Section{ID: "idle", Title: "Memory per idle connection",
		Intro: "N keep-alive connections opened, one request each, then held idle; server RSS and live heap (after a GC) per connection."}
	cells := b.r.Select("Proc", map[string]string{"load": "idle"})
	if len(cells) == 0 {
		b.missing("%s: no idle cells", s.Title)
		return
	}
	conns := values(cells, "conns")
	t := Table{Header: []string{"model", "ReduceMemoryUsage", "conns", "RSS/conn", "heap/conn", "goroutines/conn"}}
	var cats []string
	rss := Series{Name: "RSS KiB/conn"}
	heap := Series{Name: "heap KiB/conn"}
	top := conns[len(conns)-1]
	for _, m := range values(cells, "model") {
		for _, mem := range values(cells, "mem") {
			for _, cn := range conns {
				c := find(cells, "model", m, "mem", mem, "conns", cn)
				if c == nil {
					continue
				}
				t.Rows = append(t.Rows, []string{m, map[string]string{"reduce": "on", "default": "off"}[mem], cn,
					fmtBytes(median(c, "rss-bytes/conn")), fmtBytes(median(c, "heap-bytes/conn")), fmtNum(median(c, "goroutines/conn"))})
				if cn == top {
					cats = append(cats, m+map[string]string{"reduce": " reduce", "default": ""}[mem])
					rss.Y = append(rss.Y, median(c, "rss-bytes/conn")/1024)
					heap.Y = append(heap.Y, median(c, "heap-bytes/conn")/1024)
				}
			}
		}
	}
	s.Tables = append(s.Tables, t)
	c, err := barChart("idle-memory", "server memory per idle connection (conns="+top+")", "KiB", cats, []Series{rss, heap})
	b.chart(s, c, err)
	f := find(cells, "model", "fasthttp", "mem", "default", "conns", top)
	fr := find(cells, "model", "fasthttp", "mem", "reduce", "conns", top)
	n := find(cells, "model", "nethttp", "mem", "default", "conns", top)
	if f != nil && n != nil {
		say := fmt.Sprintf("Idle connections (%s): %s of RSS per connection for fasthttp, %s for net/http", top, fmtBytes(median(f, "rss-bytes/conn")), fmtBytes(median(n, "rss-bytes/conn")))
		if fr != nil {
			say += fmt.Sprintf("; ReduceMemoryUsage brings fasthttp to %s", fmtBytes(median(fr, "rss-bytes/conn")))
		}
		b.rep.Says = append(b.rep.Says, say+".")
	}
	b.add(s)
}

func (b *builder) clients() {
	s := &Section{ID: "clients", Title: "Client connection pools",
		Intro: "The same fasthttp server driven through each client model; dials counted at the dialer."}
	cells := b.r.Select("Proc", map[string]string{"load": "client"})
	unitRate := "req/s"
	if len(cells) == 0 {
		cells = b.r.Select("Client", nil)
		s.Intro += " In-process (no process-layer client cells in this run)."
	}
	if len(cells) == 0 {
		b.missing("%s: no client cells", s.Title)
	} else {
		t := Table{Header: []string{"client", "conns", "req/s", "p99", "dials/1k req", "TIME_WAIT"}}
		var cats []string
		d := Series{Name: "dials per 1,000 requests"}
		for _, cl := range values(cells, "client") {
			for _, cn := range values(cells, "conns") {
				c := find(cells, "client", cl, "conns", cn)
				if c == nil {
					continue
				}
				t.Rows = append(t.Rows, []string{cl, cn, fmtRate(median(c, unitRate)), fmtNs(median(c, "p99-ns")), fmtNum(median(c, "dials/1k-req")), fmtNum(median(c, "timewait-socks"))})
				cats = append(cats, cl+" "+cn)
				d.Y = append(d.Y, nz(median(c, "dials/1k-req")))
			}
		}
		s.Tables = append(s.Tables, t)
		c, err := barChart("client-dials", "dials per 1,000 requests", "dials", cats, []Series{d})
		b.chart(s, c, err)
		def, tuned := find(cells, "client", "nethttp_default"), find(cells, "client", "nethttp_tuned")
		if def != nil && tuned != nil {
			b.rep.Says = append(b.rep.Says, fmt.Sprintf("Clients: net/http's default transport dials %s times per 1,000 requests at %s callers (MaxIdleConnsPerHost=2); tuned, %s.",
				fmtNum(median(def, "dials/1k-req")), def.Keys["conns"], fmtNum(median(tuned, "dials/1k-req"))))
		}
	}
	b.add(s)
}

func (b *builder) scenarios() {
	s := &Section{ID: "scenarios", Title: "Client pool failures: before and after",
		Intro: "Each scenario runs a failing config and its fix against a real server on loopback (poolbench scenarios)."}
	if len(b.r.Scenarios) == 0 {
		b.missing("%s: no scenarios.json in the run (poolbench scenarios -json > %s/scenarios.json)", s.Title, b.r.Dir)
		return
	}
	for _, sc := range b.r.Scenarios {
		t := Table{Caption: sc.Name + ": " + sc.Problem + " — " + sc.Verdict, Header: []string{"", "config", "requests", "ok", "errors", "dials", "TIME_WAIT", "p99"}}
		for _, r := range sc.Outcome.Rows {
			errs := make([]string, 0, len(r.Errors))
			for _, k := range sortedKeys(r.Errors) {
				errs = append(errs, fmt.Sprintf("%s=%d", k, r.Errors[k]))
			}
			if len(errs) == 0 {
				errs = []string{"none"}
			}
			t.Rows = append(t.Rows, []string{r.Role, r.Config, strconv.Itoa(r.Requests), strconv.Itoa(r.OK), strings.Join(errs, " "),
				strconv.FormatInt(r.Dials, 10), strconv.Itoa(r.TimeWait), fmtNs(float64(r.P99))})
		}
		s.Tables = append(s.Tables, t)
	}
	b.add(s)
}

func nz(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtNs(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	d := time.Duration(v)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v)
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v == math.Trunc(v) && math.Abs(v) < 1e9:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 0.01:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

func fmtBytes(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	if v >= 1024 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}
