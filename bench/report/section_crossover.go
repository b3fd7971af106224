package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/poolbench/poolbench/bench/crossover"
)

// crossoverCurve: up to what point the worker pool wins, from the run's
// crossover.json (poolbench crossover -out <run>): per search, the ratio
// against connections with each probe's confidence interval, the threshold
// and the crossing found. A run without crossover.json has no such section
// and says nothing (the search is a separate command).
func crossoverCurve(b *builder) {
	searches, ok, err := crossover.ReadFile(b.r.Dir)
	if !ok {
		return
	}
	s := &Section{ID: "crossover", Title: "Crossover: up to what point the worker pool wins",
		Intro: "poolbench crossover searches the connection count (bisection on a log scale, then refinement) where fasthttp's ratio over net/http " +
			"(req/s: fasthttp/net/http; cpu-ns/op and p99-ns: net/http/fasthttp, so above the threshold fasthttp wins) crosses the threshold. " +
			"Each probe repeats interleaved pairs of cells until the ratio's confidence interval (the error bars) lies on one side of the threshold or its budget runs out."}
	if err != nil {
		b.missing("%s: %v", s.Title, err)
		return
	}
	for i, sr := range searches {
		name := fmt.Sprintf("load=%s metric=%s server-gomaxprocs=%s", sr.Load, sr.Metric, orDefault(sr.ServerGOMAXPROCS))
		t := Table{Caption: name + ": " + crossingText(sr), Header: []string{"conns", "ratio", "interval", "confidence", "samples", "side"}}
		for _, p := range sr.Curve {
			t.Rows = append(t.Rows, []string{strconv.Itoa(p.Conns), fmt.Sprintf("%.3f", p.Center), fmt.Sprintf("[%.3f, %.3f]", p.Lo, p.Hi),
				fmt.Sprintf("%.0f%%", 100*p.Confidence), strconv.Itoa(len(p.Samples)), p.Side.String()})
		}
		s.Tables = append(s.Tables, t)
		c, err := crossoverChart(fmt.Sprintf("crossover_%d_%s_%s", i+1, sr.Load, idSafe(sr.Metric)), name, sr)
		b.chart(s, c, err)
		b.say("crossover %s: %s", name, crossingText(sr))
	}
	b.add(s)
}

// crossingText says where the search found the crossing.
func crossingText(sr crossover.Search) string {
	budget := ""
	if sr.Exhausted {
		budget = ", budget spent"
	}
	if !sr.Found {
		return fmt.Sprintf("no crossing of %g between the probes (%d samples%s)", sr.Threshold, sr.Samples, budget)
	}
	return fmt.Sprintf("the ratio crosses %g between %d and %d connections (≈ %.1f; %d samples%s)", sr.Threshold, sr.Lower, sr.Upper, sr.Estimate, sr.Samples, budget)
}

// idSafe keeps a chart id to [a-z0-9_].
func idSafe(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			out[i] = '_'
		}
	}
	return string(out)
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// ratioErrors is the curve as points with asymmetric Y error bars.
type ratioErrors struct {
	plotter.XYs
	plotter.YErrors
}

// crossoverChart draws the ratio against connections (log scale) with each
// probe's interval, the threshold as a dashed line and the estimated
// crossing as a dotted vertical line.
func crossoverChart(id, title string, sr crossover.Search) (*Chart, error) {
	p := newPlot(title, "connections", "ratio (above: fasthttp wins)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	var d ratioErrors
	for _, pt := range sr.Curve {
		if pt.Conns <= 0 || math.IsNaN(pt.Center) {
			continue
		}
		d.XYs = append(d.XYs, plotter.XY{X: float64(pt.Conns), Y: pt.Center})
		// An unbounded end (too few samples for the confidence) has no bar.
		d.YErrors = append(d.YErrors, struct{ Low, High float64 }{barLength(pt.Center - pt.Lo), barLength(pt.Hi - pt.Center)})
	}
	if len(d.XYs) == 0 {
		return &Chart{ID: id, Title: title}, nil
	}
	l, pts, err := plotter.NewLinePoints(d.XYs)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	l.Color, pts.Color, l.Width, pts.Shape = palette[0], palette[0], vg.Points(1.5), draw.CircleGlyph{}
	bars, err := plotter.NewYErrorBars(d)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	bars.Color = palette[0]
	p.Add(l, pts, bars)
	p.Legend.Add("ratio with its interval", l, pts)
	lo, hi := d.XYs[0].X, d.XYs[0].X
	for _, xy := range d.XYs {
		lo, hi = min(lo, xy.X), max(hi, xy.X)
	}
	grey := color.RGBA{0x55, 0x55, 0x55, 0xff}
	th, err := plotter.NewLine(plotter.XYs{{X: lo, Y: sr.Threshold}, {X: hi, Y: sr.Threshold}})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	th.Color, th.Dashes = grey, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(th)
	p.Legend.Add(fmt.Sprintf("threshold %g", sr.Threshold), th)
	if sr.Found && sr.Estimate > 0 {
		ymin, ymax := sr.Threshold, sr.Threshold
		for i, xy := range d.XYs {
			ymin, ymax = min(ymin, xy.Y-d.YErrors[i].Low), max(ymax, xy.Y+d.YErrors[i].High)
		}
		x, err := plotter.NewLine(plotter.XYs{{X: sr.Estimate, Y: ymin}, {X: sr.Estimate, Y: ymax}})
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", id, err)
		}
		x.Color, x.Dashes = palette[1], []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(x)
		p.Legend.Add(fmt.Sprintf("crossing ≈ %.1f conns", sr.Estimate), x)
	}
	return render(p, id, title, len(d.XYs))
}

// barLength is an error bar's length, 0 for an unbounded interval end.
func barLength(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}
