package report

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/poolbench/poolbench/servers"
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

// sections are the report's parts in order, one file each, each over one
// kind of cell of the run.
var sections = []func(*builder){
	noise,          // noise.go
	precision,      // precision.go
	throughput,     // throughput.go
	bursty,         // bursty.go
	allocs,         // allocs.go
	techniquesProc, // techniques_proc.go
	idle,           // idle.go
	clients,        // clients.go
	clientFailures, // section_scenarios.go
	why,            // why.go, reconcile.go
	crossoverCurve, // section_crossover.go
}

// Build turns a run into a report. Sections without data are left out and
// named in Missing; charts that fail to render are named there too.
func Build(r *Run) *Report {
	rep := &Report{Title: "poolbench report: " + filepath.Base(r.Dir), Missing: append([]string{}, r.Missing...)}
	rep.env(r)
	b := &builder{r: r, rep: rep, baseline: Baseline(r)}
	for _, s := range sections {
		s(b)
	}
	return rep
}

// Baseline is the server model every other model is compared against (the
// denominator of every ratio): the run's "baseline:" file-level key if
// bench.txt has one, else the servers registry's declared baseline.
func Baseline(r *Run) string {
	if v := r.EnvValue("baseline"); v != "" {
		return v
	}
	return servers.Baseline().Name
}

type builder struct {
	r        *Run
	rep      *Report
	baseline string
}

// models lists the models among cells in registry order.
func (b *builder) models(cells []*Cell) []string { return values(cells, "model") }

// others lists the models among ms compared against the baseline, and
// whether the baseline is among ms at all.
func (b *builder) others(ms []string) ([]string, bool) {
	if !slices.Contains(ms, b.baseline) {
		return nil, false
	}
	return slices.DeleteFunc(slices.Clone(ms), func(m string) bool { return m == b.baseline }), true
}

func (b *builder) missing(format string, args ...any) {
	b.rep.Missing = append(b.rep.Missing, fmt.Sprintf(format, args...))
}

func (b *builder) say(format string, args ...any) {
	b.rep.Says = append(b.rep.Says, fmt.Sprintf(format, args...))
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

// seriesFor makes one empty named series per name.
func seriesFor(names []string) []Series {
	out := make([]Series, len(names))
	for i, n := range names {
		out[i].Name = n
	}
	return out
}

// env is the header: the run's identity keys, then every *-version key, then
// how each layer ran.
func (rep *Report) env(r *Run) {
	for _, k := range []string{"commit", "date", "cpu", "num-cpu", "kernel", "go-version"} {
		if v := r.EnvValue(k); v != "" {
			rep.Env = append(rep.Env, KV{k, v})
		}
	}
	for _, kv := range r.Env {
		if strings.HasSuffix(kv.Key, "-version") && kv.Key != "go-version" {
			rep.Env = append(rep.Env, kv)
		}
	}
	if c := r.Where(".name:Server"); len(c) > 0 {
		rep.Env = append(rep.Env, KV{"in-process layer", fmt.Sprintf("GOMAXPROCS %s, %s", c[0].Keys["gomaxprocs"], c[0].Keys["pinning"])})
	}
	if c := r.Where(".name:Proc"); len(c) > 0 {
		k := c[0].Keys
		rep.Env = append(rep.Env, KV{"process layer", fmt.Sprintf("server on cpu %s with GOMAXPROCS %s, load on cpu %s with GOMAXPROCS %s (%s); window %s after a %s warm-up",
			k["server-cpus"], k["server-gomaxprocs"], k["load-cpus"], k["load-gomaxprocs"], k["pinning"], k["window"], k["warmup"])})
	}
}
