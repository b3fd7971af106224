package report

import (
	"fmt"
	"math"
	"strconv"

	"golang.org/x/perf/benchunit"
)

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

// find is the first cell whose keys match kv (key, value, key, value…).
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

// Formatting goes through benchunit, as benchstat's tables do; "—" marks
// a value the run lacks.

func fmtRate(v float64) string { return scaled(v, benchunit.Decimal, "") }

// fmtNs formats nanoseconds as seconds with an SI prefix, e.g. 271.6µs.
func fmtNs(v float64) string { return scaled(v/1e9, benchunit.Decimal, "s") }

func fmtBytes(v float64) string { return scaled(v, benchunit.Binary, "B") }

func scaled(v float64, c benchunit.Class, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	return benchunit.Scale(v, c) + unit
}

func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v)
}

// fmtNum formats a count: whole numbers as such (benchunit would print
// 17.00), fractions with two significant digits.
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

func nz(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
