package report

import (
	"math"
	"sort"
)

// ClockFit is one unit's adjustment for the speed of the CPUs: the process
// runner's clocks (bench/sysstat.Clock) read how much slower than the run's
// baseline the cell's CPUs ran during each window, and the virtual CPUs of a
// cloud machine change speed by several percent from second to second. The
// report fits, over every closed-loop process cell of the run, how a unit's
// log moves with that slowdown within a cell (a pooled within-cell slope,
// so the cells' own differences do not enter it), and moves every sample to
// the run's mean clock: an analysis of covariance on a covariate the server
// model does not influence, so it narrows the spread without biasing a
// comparison. bench.txt keeps the raw samples.
type ClockFit struct {
	// Unit is the adjusted unit; Covariate the clock metric it is fitted on.
	Unit, Covariate string
	// Slope is the change of ln(value) per percent of clock slowdown.
	Slope float64
	// Cells is how many cells with two or more samples fitted it.
	Cells int
	// Ref is the clock slowdown, in percent, the samples were moved to.
	Ref float64
	// RawCV and AdjCV are the median and worst coefficient of variation,
	// in percent, over cells with three or more samples, before and after.
	RawCV, AdjCV [2]float64
}

// clockUnits are the units adjusted and the clock each follows: server CPU
// time follows the server's CPU; throughput both CPUs'.
var clockUnits = []struct{ unit, covariate string }{
	{"req/s", "clock-slow-pct"},
	{"ns/op", "clock-slow-pct"},
	{"cpu-ns/op", "server-clock-slow-pct"},
}

// minFitCells is the fewest cells with repeated samples a slope is fitted on.
const minFitCells = 4

// adjustForClock adjusts the closed-loop process cells' samples of
// clockUnits in place (keeping the raw ones in Cell.Raw) and returns the
// fits; none when the run has no clock readings or too few repeated cells.
func adjustForClock(cells []*Cell) []ClockFit {
	var fits []ClockFit
	for _, u := range clockUnits {
		type obs struct {
			c    *Cell
			x, y []float64
		}
		var all []obs
		for _, c := range cells {
			if c.Base != "Proc" && c.Base != "Server" { // process and in-process cells
				continue
			}
			if t, ok := loadTraits(c.Keys["load"]); !ok || !t.Closed {
				continue
			}
			x := clockOf(c, u.covariate)
			ys := c.Values[u.unit]
			if len(x) == 0 || len(x) != len(ys) {
				continue
			}
			y := make([]float64, len(ys))
			ok := true
			for i, v := range ys {
				if v <= 0 {
					ok = false
					break
				}
				y[i] = math.Log(v)
			}
			if ok {
				all = append(all, obs{c, x, y})
			}
		}
		var sxy, sxx, sumX float64
		fitCells, nx := 0, 0
		for _, o := range all {
			for _, v := range o.x {
				sumX += v
				nx++
			}
			if len(o.x) < 2 {
				continue
			}
			mx, my := mean(o.x), mean(o.y)
			for i := range o.x {
				sxy += (o.x[i] - mx) * (o.y[i] - my)
				sxx += (o.x[i] - mx) * (o.x[i] - mx)
			}
			fitCells++
		}
		if fitCells < minFitCells || sxx == 0 {
			continue
		}
		f := ClockFit{Unit: u.unit, Covariate: u.covariate, Slope: sxy / sxx, Cells: fitCells, Ref: sumX / float64(nx)}
		var rawCV, adjCV []float64
		for _, o := range all {
			raw := o.c.Values[u.unit]
			adj := make([]float64, len(raw))
			for i := range raw {
				adj[i] = math.Exp(o.y[i] - f.Slope*(o.x[i]-f.Ref))
			}
			if len(raw) >= 3 {
				rawCV, adjCV = append(rawCV, cv(raw)), append(adjCV, cv(adj))
			}
			if o.c.Raw == nil {
				o.c.Raw = map[string][]float64{}
			}
			o.c.Raw[u.unit] = raw
			o.c.Values[u.unit] = adj
		}
		f.RawCV, f.AdjCV = medianWorst(rawCV), medianWorst(adjCV)
		fits = append(fits, f)
	}
	return fits
}

// clockOf is a cell's clock slowdown per sample: covariate
// "clock-slow-pct" of a process cell is the mean of the server's and the
// load's clocks.
func clockOf(c *Cell, covariate string) []float64 {
	if v := c.Values[covariate]; len(v) > 0 || covariate != "clock-slow-pct" {
		return v // in-process cells report clock-slow-pct themselves
	}
	s, l := c.Values["server-clock-slow-pct"], c.Values["load-clock-slow-pct"]
	if len(s) != len(l) {
		return nil
	}
	x := make([]float64, len(s))
	for i := range s {
		x[i] = (s[i] + l[i]) / 2
	}
	return x
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// cv is the sample coefficient of variation in percent.
func cv(v []float64) float64 {
	m := mean(v)
	if len(v) < 2 || m == 0 {
		return 0
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return 100 * math.Sqrt(ss/float64(len(v)-1)) / math.Abs(m)
}

// medianWorst is the median and the largest of v.
func medianWorst(v []float64) [2]float64 {
	if len(v) == 0 {
		return [2]float64{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return [2]float64{s[len(s)/2], s[len(s)-1]}
}
