package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/poolbench/poolbench/workloads"
)

// The bursty workload's latency bands and their measured cause (issue 13).
// Each request in a bursty cell's vegeta results carries its trace
// (workloads.TraceHeader): the pacer's lateness, the wait for a
// connection, the time from the write to the response's first bytes, the
// read, and whether its connection was new, how long it had been idle and
// how many other requests were in flight. The bands are the modes of the
// latency distribution (bands); each request belongs to exactly one band
// and exactly one position in its burst, and the tables compare the parts
// of the latency band by band.

// tracedReq is one request of a bursty cell: its latency from the intended
// send time, where it went, and its place in its burst.
type tracedReq struct {
	lat   int64
	due   int64 // intended send time, ns after the first request's
	t     workloads.Trace
	burst int // burst number, from 0
	pos   int // position in the burst, from 0
}

// readTraces reads a vegeta results file of the bursty workload, in send
// order. Bursts are told apart by their intended send times: a request due
// at least gap after the previous one starts a new burst (gap 0: one burst).
// It fails when a result has no trace (a run made before traces existed).
func readTraces(path string, gap time.Duration) ([]tracedReq, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type res struct {
		seq uint64
		at  time.Time
		r   tracedReq
	}
	var rs []res
	dec := vegeta.NewDecoder(f)
	for {
		var v vegeta.Result
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if v.Error != "" {
			continue
		}
		h := v.Headers.Get(workloads.TraceHeader)
		if h == "" {
			return nil, fmt.Errorf("%s: result %d has no %s header (a run made before per-request traces)", path, v.Seq, workloads.TraceHeader)
		}
		t, err := workloads.ParseTrace(h)
		if err != nil {
			return nil, fmt.Errorf("%s: result %d: %w", path, v.Seq, err)
		}
		rs = append(rs, res{v.Seq, v.Timestamp, tracedReq{lat: int64(v.Latency), t: t}})
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s holds no successful results", path)
	}
	slices.SortFunc(rs, func(a, b res) int { return int(a.seq) - int(b.seq) })
	out := make([]tracedReq, len(rs))
	burst, pos := 0, 0
	for i, r := range rs {
		r.r.due = int64(r.at.Sub(rs[0].at))
		if i > 0 {
			pos++
			if gap > 0 && r.at.Sub(rs[i-1].at) >= gap {
				burst, pos = burst+1, 0
			}
		}
		r.r.burst, r.r.pos = burst, pos
		out[i] = r.r
	}
	return out, nil
}

// band is one mode of the latency distribution: the requests with latency
// in [lo, hi).
type band struct {
	lo, hi float64
	reqs   []tracedReq
}

// Band detection: latencies in log bins of binsPerDecade per decade,
// smoothed over five bins (±25%); a peak holding less than minPeakShare of the
// requests is noise, and two peaks are separate bands only when the valley
// between them drops below valleyRatio of the lower one.
const (
	binsPerDecade = 20
	minPeakShare  = 0.05
	valleyRatio   = 0.6
)

// bands splits reqs into the modes of their latency distribution, fastest
// first; every request falls in exactly one band.
func bands(reqs []tracedReq) []band {
	if len(reqs) == 0 {
		return nil
	}
	bin := func(lat int64) int { return int(math.Floor(math.Log10(math.Max(float64(lat), 1)) * binsPerDecade)) }
	lo, hi := math.MaxInt, math.MinInt
	for _, r := range reqs {
		b := bin(r.lat)
		lo, hi = min(lo, b), max(hi, b)
	}
	counts := make([]float64, hi-lo+1)
	for _, r := range reqs {
		counts[bin(r.lat)-lo]++
	}
	smooth := make([]float64, len(counts))
	for i := range counts {
		n, s := 0.0, 0.0
		for j := max(0, i-2); j <= min(len(counts)-1, i+2); j++ {
			s, n = s+counts[j], n+1
		}
		smooth[i] = s / n
	}
	var peaks []int
	for i, v := range smooth {
		left := i == 0 || smooth[i-1] < v
		right := i == len(smooth)-1 || smooth[i+1] <= v
		if left && right && v >= minPeakShare*float64(len(reqs))/5 {
			peaks = append(peaks, i)
		}
	}
	// Merge neighbours without a deep enough valley between them, keeping
	// the higher peak; splits are at the valleys' lowest bins.
	var splits []int
	for i := 1; i < len(peaks); {
		a, b := peaks[i-1], peaks[i]
		v := a
		for j := a; j <= b; j++ {
			if smooth[j] < smooth[v] {
				v = j
			}
		}
		if smooth[v] < valleyRatio*math.Min(smooth[a], smooth[b]) {
			splits = append(splits, v)
			i++
			continue
		}
		if smooth[a] >= smooth[b] {
			peaks = slices.Delete(peaks, i, i+1)
		} else {
			peaks = slices.Delete(peaks, i-1, i)
		}
	}
	edges := []float64{0}
	for _, s := range splits {
		edges = append(edges, math.Pow(10, float64(lo+s)/binsPerDecade))
	}
	edges = append(edges, math.Inf(1))
	out := make([]band, len(edges)-1)
	for i := range out {
		out[i].lo, out[i].hi = edges[i], edges[i+1]
	}
	for _, r := range reqs {
		i := bandOf(edges, float64(r.lat))
		out[i].reqs = append(out[i].reqs, r)
	}
	return slices.DeleteFunc(out, func(b band) bool { return len(b.reqs) == 0 })
}

// bandOf is the band of edges that holds v.
func bandOf(edges []float64, v float64) int {
	for i := 1; i < len(edges); i++ {
		if v < edges[i] {
			return i - 1
		}
	}
	return len(edges) - 2
}

// part is one column of the bands table: a per-request figure and its
// median over a group of requests.
type part struct {
	name string
	ns   bool // a duration; else a share of requests in percent
	of   func(r tracedReq) float64
}

// latencyParts split a request's latency, in the order they happen.
var latencyParts = []part{
	{"pacer late", true, func(r tracedReq) float64 { return float64(r.t.Late) }},
	{"conn wait", true, func(r tracedReq) float64 { return float64(r.t.Wait) }},
	{"write→response", true, func(r tracedReq) float64 { return float64(r.t.Server) }},
	{"body read", true, func(r tracedReq) float64 { return float64(r.t.Read) }},
}

// shareParts are the requests' circumstances, as shares of the group.
var shareParts = []part{
	{"new conn", false, func(r tracedReq) float64 { return b2f(r.t.OnConn == 0) }},
	{"1st of burst", false, func(r tracedReq) float64 { return b2f(r.pos == 0) }},
	{"others in flight", false, func(r tracedReq) float64 { return b2f(r.t.InFlight > 0) }},
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reqQuantile is the q-quantile (0..1) of f over reqs.
func reqQuantile(reqs []tracedReq, q float64, f func(tracedReq) float64) float64 {
	if len(reqs) == 0 {
		return math.NaN()
	}
	v := make([]float64, len(reqs))
	for i, r := range reqs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[min(len(v)-1, int(q*float64(len(v))))]
}

// reqMean is the mean of f over reqs.
func reqMean(reqs []tracedReq, f func(tracedReq) float64) float64 {
	s := 0.0
	for _, r := range reqs {
		s += f(r)
	}
	return s / float64(len(reqs))
}

func latOf(r tracedReq) float64 { return float64(r.lat) }

// groupRow is one table row over a group of requests: count and share,
// latency p50 and p99, the parts' medians and the circumstances' shares.
func groupRow(label string, g []tracedReq, total int) []string {
	row := []string{label, fmt.Sprintf("%d (%.0f%%)", len(g), 100*float64(len(g))/float64(total)),
		fmtNs(reqQuantile(g, 0.5, latOf)), fmtNs(reqQuantile(g, 0.99, latOf))}
	for _, p := range latencyParts {
		row = append(row, fmtNs(reqQuantile(g, 0.5, p.of)))
	}
	for _, p := range shareParts {
		row = append(row, fmt.Sprintf("%.0f%%", 100*reqMean(g, p.of)))
	}
	return append(row, fmtCost(reqQuantile(g, 0.5, func(r tracedReq) float64 { return float64(r.t.Idle) })))
}

func groupHeader(first string) []string {
	h := []string{first, "requests", "p50", "p99"}
	for _, p := range latencyParts {
		h = append(h, p.name+" p50")
	}
	for _, p := range shareParts {
		h = append(h, p.name)
	}
	return append(h, "conn idle p50")
}

// positions groups requests by their place in their burst; every request
// is in exactly one group.
var positions = []struct {
	label string
	in    func(tracedReq) bool
}{
	{"1st of a burst", func(r tracedReq) bool { return r.pos == 0 }},
	{"2nd–10th", func(r tracedReq) bool { return r.pos >= 1 && r.pos < 10 }},
	{"later, new conn", func(r tracedReq) bool { return r.pos >= 10 && r.t.OnConn == 0 }},
	{"later, reused conn", func(r tracedReq) bool { return r.pos >= 10 && r.t.OnConn > 0 }},
}

// byPosition splits reqs by positions, in its order.
func byPosition(reqs []tracedReq) [][]tracedReq {
	out := make([][]tracedReq, len(positions))
	for _, r := range reqs {
		for i, p := range positions {
			if p.in(r) {
				out[i] = append(out[i], r)
				break
			}
		}
	}
	return out
}

// largestPart names the part of the latency with the largest median over
// reqs and its share of their median latency, e.g. "pacer late (75%)".
func largestPart(reqs []tracedReq) string {
	best, v := latencyParts[0], math.Inf(-1)
	for _, p := range latencyParts {
		if q := reqQuantile(reqs, 0.5, p.of); q > v {
			best, v = p, q
		}
	}
	return fmt.Sprintf("%s (%s)", best.name, fmtShare(v/reqQuantile(reqs, 0.5, latOf)))
}

// bandLabel names a band by its median latency, e.g. "~312µs".
func bandLabel(b band) string { return "~" + fmtNs(reqQuantile(b.reqs, 0.5, latOf)) }

// burstyBands adds, for every model at silence gap, the table of its
// latency bands and the table by position in the burst, and says what
// separates the slowest band from the fastest.
func (b *builder) burstyBands(s *Section, cells []*Cell, models []string, gap string) {
	g, err := time.ParseDuration(gap)
	if err != nil {
		b.missing("bursty bands, gap=%s: %v", gap, err)
		return
	}
	bt := Table{Caption: "Latency bands, silence " + gap + ": medians of the parts of each band's latency", Header: append(append([]string{"model"}, groupHeader("band")...), "largest part (of p50)")}
	pt := Table{Caption: "Latency by position in the burst, silence " + gap, Header: append([]string{"model"}, groupHeader("position")...)}
	var hist []Series
	top := 0.0
	type modelReqs struct {
		name   string
		reqs   []tracedReq
		points []float64 // the over-time chart's latencies, ms
	}
	var all []modelReqs
	for _, m := range models {
		c := find(cells, "model", m, "gap", gap)
		if c == nil {
			continue
		}
		reqs, err := readTraces(vegetaPath(b.r, c), g)
		if err != nil {
			b.missing("bursty latency bands for model=%s gap=%s: %v", m, gap, err)
			continue
		}
		bs := bands(reqs)
		for _, bd := range bs {
			bt.Rows = append(bt.Rows, append(append([]string{m}, groupRow(bandLabel(bd), bd.reqs, len(reqs))...), largestPart(bd.reqs)))
		}
		for i, grp := range byPosition(reqs) {
			if len(grp) > 0 {
				pt.Rows = append(pt.Rows, append([]string{m}, groupRow(positions[i].label, grp, len(reqs))...))
			}
		}
		b.saysBands(m, gap, c, bs, len(reqs))
		var ys []float64
		if sr, err := readVegeta(vegetaPath(b.r, c), m); err == nil { // the over-time chart's points
			ys = sr.Y
		}
		b.saysSpread(m, gap, c, reqs, ys)
		all = append(all, modelReqs{m, reqs, ys})
		top = math.Max(top, 2*reqQuantile(reqs, 0.75, latOf))
	}
	if len(bt.Rows) == 0 {
		return
	}
	s.Tables = append(s.Tables, bt, pt)
	for _, mr := range all {
		lats := make([]float64, len(mr.reqs))
		for i, r := range mr.reqs {
			lats[i] = float64(r.lat)
		}
		hist = append(hist, histogram(mr.name+", all requests", lats, top, histBins))
		if len(mr.points) > 0 {
			pts := make([]float64, len(mr.points))
			for i, y := range mr.points {
				pts[i] = y * 1e6
			}
			hist = append(hist, histogram(mr.name+", over-time chart's points", pts, top, histBins))
		}
	}
	ch, err := lineChart("bursty-histogram", "latency distribution, silence "+gap+": all requests vs the over-time chart's points", "ms (last bin: everything above)", "% per bin", false, hist)
	b.chart(s, ch, err)
}

// histBins is the number of bins of the latency histogram.
const histBins = 30

// saysBands names what separates the slowest band from the fastest: the
// part of the latency whose median differs most, and how much of the
// bands' distance it covers, with the circumstances of both bands and the
// server's scheduling latency and context switches where the line has them.
func (b *builder) saysBands(model, gap string, c *Cell, bs []band, total int) {
	if len(bs) < 2 {
		if len(bs) == 1 {
			b.say("Bursty bands, %s at silence %s: one band (%s, p99 %s), no second mode in %d requests.",
				model, gap, bandLabel(bs[0]), fmtNs(reqQuantile(bs[0].reqs, 0.99, latOf)), total)
		}
		return
	}
	fast, slow := bs[0], bs[len(bs)-1]
	dist := reqQuantile(slow.reqs, 0.5, latOf) - reqQuantile(fast.reqs, 0.5, latOf)
	best, bestD := latencyParts[0], math.Inf(-1)
	var diffs []string
	for _, p := range latencyParts {
		d := reqQuantile(slow.reqs, 0.5, p.of) - reqQuantile(fast.reqs, 0.5, p.of)
		diffs = append(diffs, fmt.Sprintf("%s %s vs %s", p.name, fmtNs(reqQuantile(slow.reqs, 0.5, p.of)), fmtNs(reqQuantile(fast.reqs, 0.5, p.of))))
		if d > bestD {
			best, bestD = p, d
		}
	}
	var circ []string
	for _, p := range shareParts {
		circ = append(circ, fmt.Sprintf("%s %.0f%% vs %.0f%%", p.name, 100*reqMean(slow.reqs, p.of), 100*reqMean(fast.reqs, p.of)))
	}
	server := serverClause(c)
	b.say("Bursty bands, %s at silence %s: the %s band (%d requests, %.0f%%) against the %s band (%d, %.0f%%) is %s: its median is %s against %s, %s of the %s between the bands (medians, slow vs fast: %s; %s).%s",
		model, gap, bandLabel(slow), len(slow.reqs), 100*float64(len(slow.reqs))/float64(total),
		bandLabel(fast), len(fast.reqs), 100*float64(len(fast.reqs))/float64(total),
		bandCause[best.name], fmtNs(reqQuantile(slow.reqs, 0.5, best.of)), fmtNs(reqQuantile(fast.reqs, 0.5, best.of)),
		fmtShare(bestD/dist), fmtNs(dist), strings.Join(diffs, ", "), strings.Join(circ, ", "), server)
}

// serverClause gives the server's scheduling latency and context switches
// over the window where the cell's line has them, else "".
func serverClause(c *Cell) string {
	v := median(c, "sched-p99-ns")
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf(" Server over the window: scheduling latency p99 %s, %s voluntary context switches per request.", fmtNs(v), fmtNum(median(c, "vcsw/op")))
}

// bandCause says what a part of the latency is, when it separates bands.
var bandCause = map[string]string{
	"pacer late":     "the load's pacer sending late (vegeta picked the hit up after its intended time; the load process woke late)",
	"conn wait":      "waiting for a connection (the pool's hand-off or a dial) before the request is written",
	"write→response": "time from the write to the response's first bytes (loopback, the server's wake-up and work, the load's wake-up to read)",
	"body read":      "reading the body and handing the result to vegeta's worker",
}

func fmtShare(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}
