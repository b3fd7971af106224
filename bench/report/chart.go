package report

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one rendered chart.
type Chart struct {
	// ID names the chart and its file, charts/<ID>.svg.
	ID    string
	Title string
	// SVG is the rendered chart.
	SVG []byte
	// Points is the number of data points drawn.
	Points int
}

// Series is one named line or group of bars.
type Series struct {
	Name string
	X, Y []float64
	// Lo and Hi, when as long as Y, are each point's interval, drawn as
	// error bars (lineChart).
	Lo, Hi []float64
}

// add appends a point with its interval.
func (s *Series) add(x, y, lo, hi float64) {
	s.X, s.Y, s.Lo, s.Hi = append(s.X, x), append(s.Y, y), append(s.Lo, lo), append(s.Hi, hi)
}

// errorPoints are points with their intervals, for plotter.NewYErrorBars.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}

var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
}

func render(p *plot.Plot, id, title string, points int) (*Chart, error) {
	w, err := p.WriterTo(7*vg.Inch, 3.6*vg.Inch, "svg")
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("chart %s: %w", id, err)
	}
	return &Chart{ID: id, Title: title, SVG: b.Bytes(), Points: points}, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p
}

// lineChart draws one line per series; logX puts X on a log scale.
func lineChart(id, title, x, y string, logX bool, series []Series) (*Chart, error) {
	p := newPlot(title, x, y)
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	n := 0
	for i, s := range series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", id, err)
		}
		c := palette[i%len(palette)]
		l.Color, pts.Color = c, c
		l.Width = vg.Points(1.5)
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
		n += len(xys)
		if len(s.Lo) == len(s.Y) && len(s.Hi) == len(s.Y) && len(s.Y) > 0 {
			errs := make(plotter.YErrors, len(s.Y))
			for j := range s.Y {
				errs[j].Low, errs[j].High = max(s.Y[j]-s.Lo[j], 0), max(s.Hi[j]-s.Y[j], 0)
			}
			eb, err := plotter.NewYErrorBars(errorPoints{xys, errs})
			if err != nil {
				return nil, fmt.Errorf("chart %s: %w", id, err)
			}
			eb.Color = c
			p.Add(eb)
		}
	}
	p.Y.Min = 0 // after Add, which widens the range to the data
	if logX && p.X.Min == p.X.Max && p.X.Min > 0 {
		p.X.Min, p.X.Max = p.X.Min/2, p.X.Max*2 // one x value: a log axis needs a range
	}
	return render(p, id, title, n)
}

// scatterChart draws points, one colour per series.
func scatterChart(id, title, x, y string, series []Series) (*Chart, error) {
	p := newPlot(title, x, y)
	n := 0
	for i, s := range series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Y[j]}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", id, err)
		}
		sc.Color = palette[i%len(palette)]
		sc.Radius = vg.Points(1.2)
		sc.Shape = draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(s.Name, sc)
		n += len(xys)
	}
	return render(p, id, title, n)
}

// barChart draws groups of bars: one group per category, one bar per series.
func barChart(id, title, y string, categories []string, series []Series) (*Chart, error) {
	p := newPlot(title, "", y)
	w := vg.Points(float64(300) / float64(max(1, len(categories)*len(series))))
	w = min(w, vg.Points(22))
	n := 0
	for i, s := range series {
		vals := make(plotter.Values, len(categories))
		copy(vals, s.Y)
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", id, err)
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(float64(i)-float64(len(series)-1)/2)
		p.Add(b)
		p.Legend.Add(s.Name, b)
		n += len(s.Y)
	}
	p.NominalX(categories...)
	return render(p, id, title, n)
}

// sortedKeys returns the map's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
