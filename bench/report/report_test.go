package report

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report.md.golden")

// fixture is a small real run: make-bench-shaped output of a short matrix,
// profiles of five variants and two scenarios.
const fixture = "testdata/run"

func TestReportGolden(t *testing.T) {
	t.Parallel()
	run, err := Read(fixture)
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(run)
	rep.Title = "poolbench report: fixture"
	got := rep.Markdown()
	golden := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./bench/report -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("report.md differs from %s (go test ./bench/report -update to accept):\n%s", golden, got)
	}
	for _, id := range []string{"throughput", "bursty", "allocs", "techniques-proc", "idle", "clients", "scenarios", "why"} {
		found := false
		for _, s := range rep.Sections {
			found = found || s.ID == id
		}
		if !found {
			t.Errorf("the fixture report has no %s section; missing: %v", id, rep.Missing)
		}
	}
	if len(rep.Missing) != 0 {
		t.Errorf("the full fixture reports missing parts: %v", rep.Missing)
	}
	if len(rep.Says) < 5 {
		t.Errorf("only %d findings in 'what this run says': %v", len(rep.Says), rep.Says)
	}
}

// TestPartialRun renders a run holding only some cells and none of the
// extras: it must render what exists and list what is missing.
func TestPartialRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "BenchmarkProc/") && !strings.Contains(l, "/load=keepalive/") {
			continue // only keep-alive survives of the process layer
		}
		kept = append(kept, l)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(run)
	if err := rep.Write(dir); err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	for _, want := range []string{"## Throughput by connections", "## Missing from this run", "no shortlived cells", "no bursty cells", "no idle cells", "no scenarios.json", "no profiles/"} {
		if !strings.Contains(md, want) {
			t.Errorf("partial report lacks %q:\n%s", want, md)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Error(err)
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "bench.txt") {
		t.Errorf("Read(empty folder) = %v, want an error naming bench.txt", err)
	}
}

// TestChartErrorBars: a series with intervals draws more than the same
// series without them.
func TestChartErrorBars(t *testing.T) {
	t.Parallel()
	plain := Series{Name: "a", X: []float64{1, 16}, Y: []float64{1.0, 1.6}}
	bars := plain
	bars.Lo, bars.Hi = []float64{0.7, 1.5}, []float64{1.4, 1.7}
	p, err := lineChart("p", "p", "x", "y", true, []Series{plain})
	if err != nil {
		t.Fatal(err)
	}
	e, err := lineChart("e", "e", "x", "y", true, []Series{bars})
	if err != nil {
		t.Fatal(err)
	}
	// The bars are drawn in the series' colour: count what is stroked in it.
	const blue = "stroke:#1F77B4"
	if np, ne := strings.Count(string(p.SVG), blue), strings.Count(string(e.SVG), blue); ne < np+2 {
		t.Errorf("%d strokes in the series colour with error bars, %d without: want at least one more per point", ne, np)
	}
	if _, err := lineChart("one", "one", "x", "y", true, []Series{{Name: "a", X: []float64{1}, Y: []float64{2}}}); err != nil {
		t.Errorf("one point on a log axis: %v", err)
	}
}

// TestPairedVerdicts: a ratio is placed against a threshold only when its
// interval excludes it.
func TestPairedVerdicts(t *testing.T) {
	t.Parallel()
	cell := func(v ...float64) *Cell { return &Cell{Values: map[string][]float64{"req/s": v}} }
	base := cell(100, 110, 90, 105, 95)
	for _, tt := range []struct {
		name string
		num  *Cell
		want int
	}{
		{"+3% in every round", cell(103, 113.3, 92.7, 108.15, 97.85), 1},
		{"-3% in every round", cell(97, 106.7, 87.3, 101.85, 92.15), -1},
		{"±20% round to round", cell(120, 90, 108, 84, 114), 0},
		{"one round", cell(103), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := base
			if len(tt.num.Values["req/s"]) == 1 {
				b = cell(100)
			}
			if got := pairedRatio(tt.num, b, "req/s").vs(1); got != tt.want {
				t.Errorf("vs(1) = %d, want %d", got, tt.want)
			}
		})
	}
}
