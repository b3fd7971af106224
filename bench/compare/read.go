// Package compare sets two poolbench runs, or two sets of runs, side by
// side: the machines' differences first, then how each headline ratio (the
// baseline server model against every other model, per cell) moved, then
// every cell's medians with their confidence intervals and the change with
// its p-value, "~" where the change is not significant.
//
// It reads bench.txt with benchfmt and lines cells up with a benchproc
// projection of the full benchmark name, leaving the run-identity file keys
// (commit, date, cpu lists, kernel…) and /gomaxprocs out, so the same cell
// of two runs lands in the same row. Plain `benchstat a.txt b.txt` splits
// such runs into separate tables, because those keys differ.
package compare

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// Run is one side of a comparison: the results of one or more run folders.
type Run struct {
	// Label names the side in the output ("A", "B").
	Label string
	// Paths are the bench.txt files read, in order.
	Paths []string
	// Env holds every file-level key's distinct values, in order of appearance.
	Env map[string][]string

	cells map[string]*cell
	order []string
	units benchfmt.UnitMetadataMap
}

// cell is one benchmark cell's samples.
type cell struct {
	// name is the full name without /gomaxprocs; group is name without
	// /model, and model its /model ("" when the cell has none).
	name, base, group, model string
	// values holds each unit's samples, one slice per file, in file order,
	// so the i-th run of two cells of one file can be paired.
	values map[string][][]float64
	units  []string
}

// ErrInput marks errors in the runs given: a missing folder, a file that is
// not poolbench output.
var ErrInput = errors.New("bad input")

func inputErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInput}, args...)...)
}

// benchFile resolves a run folder (or a bench.txt itself) to its bench.txt.
func benchFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", inputErr("%q: no such run folder or file: give a folder such as results/reference, which holds bench.txt", path)
	}
	if !st.IsDir() {
		return path, nil
	}
	f := filepath.Join(path, "bench.txt")
	if _, err := os.Stat(f); err != nil {
		return "", inputErr("%q has no bench.txt: give a run folder written by make bench or poolbench run", path)
	}
	return f, nil
}

// Read reads the runs at paths (run folders or bench.txt files) as one
// side. filter, if not nil, keeps only the results it matches. Every error
// wraps ErrInput: a missing folder, a malformed benchmark line, or a file
// with no poolbench results (a benchmark name of key=value parts).
func Read(label string, paths []string, filter *benchproc.Filter) (*Run, error) {
	if len(paths) == 0 {
		return nil, inputErr("side %s: no run given", label)
	}
	r := &Run{Label: label, Env: map[string][]string{}, cells: map[string]*cell{}, units: benchfmt.UnitMetadataMap{}}
	// The cell's identity: the full name without /gomaxprocs. The group
	// drops /model as well, so models of one cell share a group.
	var cellPP, groupPP benchproc.ProjectionParser
	if _, err := cellPP.Parse("/gomaxprocs", nil); err != nil {
		return nil, err
	}
	cellBy, err := cellPP.Parse(".fullname", nil)
	if err != nil {
		return nil, err
	}
	modelBy, err := groupPP.Parse("/model", nil)
	if err != nil {
		return nil, err
	}
	if _, err := groupPP.Parse("/gomaxprocs", nil); err != nil {
		return nil, err
	}
	groupBy, err := groupPP.Parse(".fullname", nil)
	if err != nil {
		return nil, err
	}
	for fi, p := range paths {
		file, err := benchFile(p)
		if err != nil {
			return nil, err
		}
		r.Paths = append(r.Paths, file)
		if err := r.readFile(fi, len(paths), file, filter, cellBy, groupBy, modelBy); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Run) readFile(fi, files int, file string, filter *benchproc.Filter, cellBy, groupBy, modelBy *benchproc.Projection) error {
	f, err := os.Open(file)
	if err != nil {
		return inputErr("%v", err)
	}
	defer f.Close()
	rd := benchfmt.NewReader(f, file)
	n := 0
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			return inputErr("%v: not poolbench output (a Go benchmark line such as BenchmarkProc/model=fasthttp/… N 123 ns/op)", rec)
		case *benchfmt.Result:
			base, parts := rec.Name.Parts()
			if !slices.ContainsFunc(parts, isKeyValue) || slices.ContainsFunc(parts, notKeyValue) {
				fn, line := rec.Pos()
				return inputErr("%s:%d: benchmark %s is not a poolbench cell (want key=value sub-benchmarks, e.g. BenchmarkProc/model=fasthttp/…)", fn, line, rec.Name)
			}
			n++
			for _, c := range rec.Config {
				if c.File && !slices.Contains(r.Env[c.Key], string(c.Value)) {
					r.Env[c.Key] = append(r.Env[c.Key], string(c.Value))
				}
			}
			if filter != nil {
				if ok, _ := filter.Apply(rec); !ok {
					continue
				}
			}
			name := cellBy.Project(rec).StringValues()
			c := r.cells[name]
			if c == nil {
				c = &cell{name: name, base: string(base), group: groupBy.Project(rec).StringValues(),
					model: modelBy.Project(rec).StringValues(), values: map[string][][]float64{}}
				r.cells[name] = c
				r.order = append(r.order, name)
			}
			for _, v := range rec.Values {
				if v.Unit == "" {
					continue
				}
				if c.values[v.Unit] == nil {
					c.values[v.Unit] = make([][]float64, files)
					c.units = append(c.units, v.Unit)
				}
				c.values[v.Unit][fi] = append(c.values[v.Unit][fi], v.Value)
			}
		}
	}
	if err := rd.Err(); err != nil {
		return inputErr("reading %s: %v", file, err)
	}
	if n == 0 {
		return inputErr("%s holds no benchmark results: not poolbench output (make bench or poolbench run writes bench.txt)", file)
	}
	for k, v := range rd.Units() {
		r.units[k] = v
	}
	return nil
}

// isKeyValue reports whether a name part is /key=value.
func isKeyValue(p []byte) bool {
	return strings.HasPrefix(string(p), "/") && strings.Contains(string(p), "=")
}

// notKeyValue reports whether a name part is neither /key=value nor the
// trailing -<gomaxprocs>.
func notKeyValue(p []byte) bool {
	return !strings.HasPrefix(string(p), "-") && !isKeyValue(p)
}

// samples are all of the cell's samples of unit, across files.
func (c *cell) samples(unit string) []float64 {
	var out []float64
	for _, v := range c.values[unit] {
		out = append(out, v...)
	}
	return out
}
