// Package results writes what a run measured: Go benchmark lines with
// custom units, and the file-level lines that declare those units'
// direction for benchstat. bench/runner runs the processes; this package
// only formats what they measured.
package results

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Metric is one value-unit pair of a benchmark line.
type Metric struct {
	Value float64
	Unit  string
}

// Unit is a custom unit and whether more of it is better.
type Unit struct {
	Name   string
	Higher bool
}

// Units is every custom unit a process line may carry, in the order their
// `Unit … better=…` lines are written.
var Units = []Unit{
	{"req/s", true},
	{"connects/s", true},
	{"p50-ns", false},
	{"p99-ns", false},
	{"p999-ns", false},
	{"cpu-ns/op", false},
	{"peak-RSS-bytes", false},
	{"errors", false},
	{"timewait-socks", false},
	{"dials/1k-req", false},
	{"rss-bytes/conn", false},
	{"heap-bytes/conn", false},
	{"goroutines/conn", false},
	// What else ran in the cell's window (bench/runner noise.go).
	{"probe-slow-pct", false},
	{"others-cpu-pct", false},
	{"steal-pct", false},
	{"server-invol-csw", false},
	{"load-invol-csw", false},
	{"gc-cycles", false},
}

// WriteUnits writes one `Unit <name> better=higher|lower` line per unit.
func WriteUnits(w io.Writer) error {
	for _, u := range append(append([]Unit{}, Units...), CostUnits...) { // CostUnits: costs.go
		better := "lower"
		if u.Higher {
			better = "higher"
		}
		if _, err := fmt.Fprintf(w, "Unit %s better=%s\n", u.Name, better); err != nil {
			return err
		}
	}
	return nil
}

// WriteLine writes one Go benchmark line: Benchmark<name>, iterations, metrics.
func WriteLine(w io.Writer, name string, iters int64, ms []Metric) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Benchmark%s\t%d", name, iters)
	for _, m := range ms {
		fmt.Fprintf(&sb, "\t%s %s", formatValue(m.Value), m.Unit)
	}
	sb.WriteByte('\n')
	_, err := io.WriteString(w, sb.String())
	return err
}

func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Read reads a result file back: every benchmark line by its full name
// (the last one wins when a cell ran more than once), with the file-level
// keys in force where it stood.
func Read(path string) (map[string]*benchfmt.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd := benchfmt.NewReader(f, path)
	out := map[string]*benchfmt.Result{}
	for rd.Scan() {
		if res, ok := rd.Result().(*benchfmt.Result); ok {
			out[res.Name.String()] = res.Clone()
		}
	}
	return out, rd.Err()
}
