// Package crossover finds the connection count at which the ratio of two
// servers' measurements (fasthttp over net/http) crosses a threshold: up to
// what point does the worker pool win. It probes connection counts on a log
// scale (bisection), then refines linearly, and repeats each probe until the
// ratio's confidence interval (golang.org/x/perf/benchmath) lies wholly on
// one side of the threshold or the probe's or the search's budget runs out.
package crossover

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"golang.org/x/perf/benchmath"
)

// Measure returns one sample of the ratio at a connection count, e.g.
// fasthttp's req/s over net/http's from one interleaved pair of runs.
type Measure func(ctx context.Context, conns int) (float64, error)

// Config bounds a search.
type Config struct {
	// Min and Max bound the connection counts searched (Min ≥ 1).
	Min, Max int
	// Threshold is the ratio whose crossing is sought, e.g. 1.2.
	Threshold float64
	// Confidence is the interval's level (default 0.95).
	Confidence float64
	// Assumption summarizes samples (default benchmath.AssumeNothing:
	// the median, whose interval needs 6 samples at 95%).
	Assumption benchmath.Assumption
	// MinRepeats and MaxRepeats bound the samples of one probe (defaults
	// 3 and 10).
	MinRepeats, MaxRepeats int
	// Budget caps the samples of the whole search (default 60).
	Budget int
	// Resolution ends the refinement once the bracket's upper end is
	// within this fraction of its lower end (default 0.1), or 1 apart.
	Resolution float64
	// Log, if set, sees every probe as it settles.
	Log func(Point)
}

// Side is where a probe's interval lies relative to the threshold.
type Side int

// Sides of the threshold.
const (
	// Unclear: the interval still holds the threshold (budget spent).
	Unclear Side = iota
	// Above: the whole interval is above the threshold.
	Above
	// Below: the whole interval is below the threshold.
	Below
)

func (s Side) String() string {
	return [...]string{"unclear", "above", "below"}[s]
}

// Point is one probed connection count.
type Point struct {
	Conns   int       `json:"conns"`
	Samples []float64 `json:"samples"`
	// Center, Lo and Hi summarize the samples: the interval at Confidence.
	Center     float64 `json:"center"`
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Confidence float64 `json:"confidence"`
	Side       Side    `json:"side"`
}

// Result is a search's outcome.
type Result struct {
	// Curve holds every probe, by connection count.
	Curve []Point `json:"curve"`
	// Found reports a crossing: Lower and Upper are the closest clear
	// probes on opposite sides, and Estimate is the crossing interpolated
	// on the log scale between their centers, or the probe between them
	// whose ratio stayed at the threshold within the noise (unclear).
	Found    bool    `json:"found"`
	Lower    int     `json:"lower,omitempty"`
	Upper    int     `json:"upper,omitempty"`
	Estimate float64 `json:"estimate,omitempty"`
	// Samples is how many samples the search took; Exhausted says the
	// budget ran out before the bracket reached the resolution.
	Samples   int  `json:"samples"`
	Exhausted bool `json:"exhausted"`
}

// ErrBudget stops a probe when the search's budget is spent.
var ErrBudget = errors.New("crossover: budget spent")

func (c *Config) defaults() error {
	if c.Min < 1 || c.Max <= c.Min {
		return fmt.Errorf("crossover: connection range %d..%d: want 1 ≤ min < max", c.Min, c.Max)
	}
	if !(c.Threshold > 0) {
		return fmt.Errorf("crossover: threshold %g: want a ratio > 0, e.g. 1.2", c.Threshold)
	}
	if c.Confidence == 0 {
		c.Confidence = 0.95
	}
	if c.Assumption == nil {
		c.Assumption = benchmath.AssumeNothing
	}
	if c.MinRepeats == 0 {
		c.MinRepeats = 3
	}
	if c.MaxRepeats == 0 {
		c.MaxRepeats = 10
	}
	if c.MaxRepeats < c.MinRepeats {
		c.MaxRepeats = c.MinRepeats
	}
	if c.Budget == 0 {
		c.Budget = 60
	}
	if c.Resolution == 0 {
		c.Resolution = 0.1
	}
	return nil
}

// search is one search's state.
type search struct {
	c      Config
	m      Measure
	points map[int]*Point
	used   int
}

// probe samples conns until its interval clears the threshold, reaches
// MaxRepeats, or the budget ends; a probed count is sampled further only
// if still unclear.
func (s *search) probe(ctx context.Context, conns int) (*Point, error) {
	p := s.points[conns]
	if p == nil {
		p = &Point{Conns: conns}
		s.points[conns] = p
	}
	for len(p.Samples) < s.c.MaxRepeats && (len(p.Samples) < s.c.MinRepeats || p.Side == Unclear) {
		if s.used >= s.c.Budget {
			if len(p.Samples) == 0 {
				delete(s.points, conns)
			}
			return p, ErrBudget
		}
		v, err := s.m(ctx, conns)
		if err != nil {
			return p, fmt.Errorf("crossover: measuring at %d connections: %w", conns, err)
		}
		s.used++
		p.Samples = append(p.Samples, v)
		s.summarize(p)
	}
	if s.c.Log != nil {
		s.c.Log(*p)
	}
	return p, nil
}

func (s *search) summarize(p *Point) {
	sum := s.c.Assumption.Summary(benchmath.NewSample(append([]float64(nil), p.Samples...), &benchmath.DefaultThresholds), s.c.Confidence)
	p.Center, p.Lo, p.Hi, p.Confidence = sum.Center, sum.Lo, sum.Hi, sum.Confidence
	switch {
	case p.Lo > s.c.Threshold:
		p.Side = Above
	case p.Hi < s.c.Threshold:
		p.Side = Below
	default:
		p.Side = Unclear
	}
}

// Find searches [Min, Max] for the crossing of the threshold.
func Find(ctx context.Context, c Config, m Measure) (Result, error) {
	if err := c.defaults(); err != nil {
		return Result{}, err
	}
	s := &search{c: c, m: m, points: map[int]*Point{}}
	res, err := s.run(ctx)
	res.Samples = s.used
	for _, p := range s.points {
		res.Curve = append(res.Curve, *p)
	}
	sort.Slice(res.Curve, func(i, j int) bool { return res.Curve[i].Conns < res.Curve[j].Conns })
	if errors.Is(err, ErrBudget) {
		res.Exhausted = true
		err = nil
	}
	return res, err
}

func (s *search) run(ctx context.Context) (Result, error) {
	var res Result
	lo, err := s.probe(ctx, s.c.Min)
	if err != nil {
		return res, err
	}
	hi, err := s.probe(ctx, s.c.Max)
	if err != nil {
		return res, err
	}
	// Without a bracket (an end unclear, or both ends on one side), sweep
	// the widest gap on the log scale until two clear neighbours disagree
	// or every gap is at most a doubling: the curve is then coarse but
	// whole, and a crossing that turns back inside the range is seen.
	for {
		var ok bool
		if lo, hi, ok = s.bracket(); ok {
			break
		}
		gapLo, gapHi := s.widestGap()
		if gapHi <= 2*gapLo {
			return res, nil // no crossing in range
		}
		mid := int(math.Round(math.Sqrt(float64(gapLo) * float64(gapHi))))
		if _, err := s.probe(ctx, min(max(mid, gapLo+1), gapHi-1)); err != nil {
			if lo, hi, ok := s.bracket(); ok { // the last probe made one
				res.Found, res.Lower, res.Upper, res.Estimate = true, lo.Conns, hi.Conns, interpolate(lo, hi, s.c.Threshold)
			}
			return res, err
		}
	}
	// Bisection on the log scale, then linear refinement, keeping lo and
	// hi on opposite sides.
	for hi.Conns-lo.Conns > 1 && float64(hi.Conns) > float64(lo.Conns)*(1+s.c.Resolution) {
		var mid int
		if hi.Conns > 2*lo.Conns {
			mid = int(math.Round(math.Sqrt(float64(lo.Conns) * float64(hi.Conns))))
		} else {
			mid = (lo.Conns + hi.Conns) / 2
		}
		mid = min(max(mid, lo.Conns+1), hi.Conns-1)
		p, err := s.probe(ctx, mid)
		if err != nil {
			res.Found, res.Lower, res.Upper, res.Estimate = true, lo.Conns, hi.Conns, interpolate(lo, hi, s.c.Threshold)
			return res, err
		}
		switch p.Side {
		case lo.Side:
			lo = p
		case hi.Side:
			hi = p
		default: // at the threshold within the noise: the crossing is here
			res.Found, res.Lower, res.Upper, res.Estimate = true, lo.Conns, hi.Conns, float64(p.Conns)
			return res, nil
		}
	}
	res.Found, res.Lower, res.Upper, res.Estimate = true, lo.Conns, hi.Conns, interpolate(lo, hi, s.c.Threshold)
	return res, nil
}

// sorted is every probed point by connections.
func (s *search) sorted() []*Point {
	ps := make([]*Point, 0, len(s.points))
	for _, p := range s.points {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Conns < ps[j].Conns })
	return ps
}

// bracket finds the first two clear probes on opposite sides with no
// clear probe between them (unclear ones may lie between).
func (s *search) bracket() (lo, hi *Point, ok bool) {
	var prev *Point
	for _, p := range s.sorted() {
		if p.Side == Unclear {
			continue
		}
		if prev != nil && prev.Side != p.Side {
			return prev, p, true
		}
		prev = p
	}
	return nil, nil, false
}

// widestGap is the pair of adjacent probes furthest apart on the log scale.
func (s *search) widestGap() (lo, hi int) {
	ps := s.sorted()
	best := 0.0
	for i := 1; i < len(ps); i++ {
		if r := float64(ps[i].Conns) / float64(ps[i-1].Conns); r > best {
			best, lo, hi = r, ps[i-1].Conns, ps[i].Conns
		}
	}
	return lo, hi
}

// interpolate is where the line through the two probes' centers, on a log
// scale of connections, meets the threshold.
func interpolate(a, b *Point, th float64) float64 {
	if a.Center == b.Center {
		return math.Sqrt(float64(a.Conns) * float64(b.Conns))
	}
	f := (th - a.Center) / (b.Center - a.Center)
	f = min(max(f, 0), 1)
	la, lb := math.Log(float64(a.Conns)), math.Log(float64(b.Conns))
	return math.Exp(la + f*(lb-la))
}
