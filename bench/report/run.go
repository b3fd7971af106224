// Package report turns a stored run folder (results/<run>/) into report.md
// and a self-contained report.html with charts: throughput by connections,
// bursty latency, allocations per variant, memory per idle connection, the
// client matrix and scenarios, and a "what this run says" section computed
// from the data. Missing or partial parts are listed, not fatal.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"

	"github.com/poolbench/poolbench/workloads/scenarios"
)

// Cell is one benchmark cell with its samples.
type Cell struct {
	// Base is the benchmark's base name, e.g. "Proc" or "Server".
	Base string
	// Keys are the sub-benchmark keys and the file-level keys in force.
	Keys map[string]string
	// Values are the samples by unit as written (ns/op, req/s, p99-ns…).
	Values map[string][]float64
	// Raw are the samples as written of the units Values holds adjusted
	// for the CPUs' speed (clock.go); nil when nothing was adjusted.
	Raw map[string][]float64
	// res is the cell's first result, which benchproc filters match on.
	res *benchfmt.Result
}

// Median is the median sample of unit, and whether there is one.
func (c *Cell) Median(unit string) (float64, bool) {
	v := c.Values[unit]
	if len(v) == 0 {
		return 0, false
	}
	s := benchmath.NewSample(v, &benchmath.DefaultThresholds)
	return benchmath.AssumeNothing.Summary(s, 0.95).Center, true
}

// Run is a run folder read back.
type Run struct {
	Dir string
	// Env are the file-level keys of bench.txt, first value of each, in order.
	Env []KV
	// Cells in file order.
	Cells []*Cell
	// Scenarios are the client scenarios' outcomes (scenarios.json), if any.
	Scenarios []Scenario
	// HasScenarios reports whether the run folder has a scenarios.json.
	HasScenarios bool
	// Missing lists what the run folder lacks, for the report.
	Missing []string
	// ClockFits are the adjustments for the CPUs' speed applied to the
	// process cells' samples (clock.go), one per unit adjusted.
	ClockFits []ClockFit
}

// KV is one file-level key.
type KV struct{ Key, Value string }

// Scenario is one line of scenarios.json (poolbench scenarios -json), read
// with the scenarios package's own types, so the observer's socket
// timelines and phase tables come through.
type Scenario struct {
	Name, Problem, Fix, Verdict string
	Outcome                     *scenarios.Outcome
}

// Read reads a run folder. Only a missing bench.txt is an error.
func Read(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	f, err := os.Open(filepath.Join(dir, "bench.txt"))
	if err != nil {
		return nil, fmt.Errorf("reading the run %s: %w (a run folder holds bench.txt from make bench)", dir, err)
	}
	defer f.Close()
	rd := benchfmt.NewReader(f, filepath.Join(dir, "bench.txt"))
	seenEnv := map[string]bool{}
	byName := map[string]*Cell{}
	bad, firstBad := 0, error(nil)
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			if se, isSyntax := rd.Result().(*benchfmt.SyntaxError); isSyntax {
				if bad == 0 {
					firstBad = se
				}
				bad++
			}
			continue
		}
		for _, c := range res.Config {
			if c.File && !seenEnv[c.Key] {
				seenEnv[c.Key] = true
				r.Env = append(r.Env, KV{c.Key, string(c.Value)})
			}
		}
		name := res.Name.String()
		if base, _ := res.Name.Parts(); len(base) == 0 {
			// "Benchmark 1 2 ns/op": no name, so no cell poolbench wrote.
			if bad == 0 {
				firstBad = fmt.Errorf("%q: a result without a benchmark name", res.Name)
			}
			bad++
			continue
		}
		c := byName[name]
		if c == nil {
			c = &Cell{Keys: map[string]string{}, Values: map[string][]float64{}, res: res.Clone()}
			base, parts := res.Name.Parts()
			c.Base = string(base)
			for _, p := range parts {
				if k, v, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "="); ok {
					c.Keys[k] = v
				}
			}
			for _, cf := range res.Config {
				if cf.File {
					c.Keys[cf.Key] = string(cf.Value)
				}
			}
			byName[name] = c
			r.Cells = append(r.Cells, c)
		}
		for _, v := range res.Values {
			// Orig* are set only where benchfmt tidied the unit (ns → sec).
			unit, val := v.OrigUnit, v.OrigValue
			if unit == "" {
				unit, val = v.Unit, v.Value
			}
			c.Values[unit] = append(c.Values[unit], val)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if len(r.Cells) == 0 {
		what := "no benchmark result lines"
		if bad > 0 {
			what = fmt.Sprintf("no valid benchmark result lines (%d malformed, first: %v)", bad, firstBad)
		}
		return nil, fmt.Errorf("%s holds %s: not poolbench output (make bench writes it)", filepath.Join(dir, "bench.txt"), what)
	}
	r.ClockFits = adjustForClock(r.Cells)
	if bad > 0 {
		r.Missing = append(r.Missing, fmt.Sprintf("bench.txt: %d malformed line(s) skipped, first: %v", bad, firstBad))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "scenarios.json")); err == nil {
		r.HasScenarios = true
		r.Scenarios, r.Missing = readScenarios(b, r.Missing)
	}
	return r, nil
}

// readScenarios reads scenarios.json (one JSON object per scenario) as far
// as it is readable, and says in missing what it lacks: a scenario that
// stops mid-way, or one without its name, verdict or rows.
func readScenarios(b []byte, missing []string) ([]Scenario, []string) {
	var out []Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var s Scenario
		if err := dec.Decode(&s); err != nil {
			missing = append(missing, fmt.Sprintf("scenarios.json: only %d scenario(s) readable, the rest is cut or malformed at byte %d (%v): rerun poolbench scenarios -json", len(out), dec.InputOffset(), err))
			break
		}
		var lacks []string
		if s.Name == "" {
			lacks = append(lacks, "name")
		}
		if s.Verdict == "" {
			lacks = append(lacks, "verdict")
		}
		if s.Outcome == nil || len(s.Outcome.Rows) == 0 {
			lacks = append(lacks, "rows")
		}
		if len(lacks) > 0 {
			missing = append(missing, fmt.Sprintf("scenarios.json: scenario %d (%q) has no %s", len(out)+1, s.Name, strings.Join(lacks, ", ")))
		}
		out = append(out, s)
	}
	if len(out) == 0 && len(bytes.TrimSpace(b)) == 0 {
		missing = append(missing, "scenarios.json is empty: rerun poolbench scenarios -json")
	}
	return out, missing
}

// Where returns the cells a benchproc filter matches, e.g.
// ".name:Proc /load:bursty" (the syntax of benchstat -filter). The
// report's filters are constants; a bad one panics (the golden test runs
// every one).
func (r *Run) Where(filter string) []*Cell {
	f, err := benchproc.NewFilter(filter)
	if err != nil {
		panic(fmt.Sprintf("report: filter %q: %v", filter, err))
	}
	var out []*Cell
	for _, c := range r.Cells {
		if m, err := f.Match(c.res); err == nil && m.Any() {
			out = append(out, c)
		}
	}
	return out
}

// EnvValue returns a file-level key's value, or "".
func (r *Run) EnvValue(key string) string {
	for _, kv := range r.Env {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// values lists the distinct values of key among cells, sorted numerically
// where they are numbers.
func values(cells []*Cell, key string) []string {
	set := map[string]bool{}
	for _, c := range cells {
		set[c.Keys[key]] = true
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		a, ea := strconv.ParseFloat(out[i], 64)
		b, eb := strconv.ParseFloat(out[j], 64)
		if ea == nil && eb == nil {
			return a < b
		}
		da, ea := time.ParseDuration(out[i])
		db, eb := time.ParseDuration(out[j])
		if ea == nil && eb == nil {
			return da < db
		}
		return out[i] < out[j]
	})
	return out
}
