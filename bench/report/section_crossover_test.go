package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolbench/poolbench/bench/crossover"
)

// TestCrossoverSection: crossover.json in a run folder becomes a section
// with the curve's table, a chart with every probe, its error bars, the
// threshold and the crossing, and a finding; without the file there is no
// section and nothing is named missing; a broken file is named missing.
func TestCrossoverSection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := &builder{r: &Run{Dir: dir}, rep: &Report{}}
	crossoverCurve(b)
	if len(b.rep.Sections) != 0 || len(b.rep.Missing) != 0 {
		t.Fatalf("no crossover.json: sections %d, missing %v: want neither", len(b.rep.Sections), b.rep.Missing)
	}

	searches := []crossover.Search{{Load: "keepalive", Metric: "req/s", Threshold: 1.2, ServerGOMAXPROCS: "1", Result: crossover.Result{
		Curve: []crossover.Point{
			{Conns: 1, Samples: []float64{0.9, 0.95, 1}, Center: 0.95, Lo: 0.9, Hi: 1, Confidence: 0.95, Side: crossover.Below},
			{Conns: 32, Samples: []float64{1.1, 1.2, 1.3}, Center: 1.2, Lo: 1.1, Hi: 1.3, Confidence: 0.95, Side: crossover.Unclear},
			{Conns: 100, Samples: []float64{1.3, 1.4, 1.5}, Center: 1.4, Lo: math.Inf(-1), Hi: math.Inf(1), Confidence: 1, Side: crossover.Unclear},
			{Conns: 1024, Samples: []float64{1.5, 1.6, 1.7}, Center: 1.6, Lo: 1.5, Hi: 1.7, Confidence: 0.95, Side: crossover.Above},
		},
		Found: true, Lower: 1, Upper: 1024, Estimate: 32, Samples: 9}}}
	if _, err := crossover.WriteFile(dir, searches); err != nil {
		t.Fatal(err)
	}
	b = &builder{r: &Run{Dir: dir}, rep: &Report{}}
	crossoverCurve(b)
	if len(b.rep.Sections) != 1 || len(b.rep.Missing) != 0 {
		t.Fatalf("sections %d, missing %v: want the crossover section and nothing missing", len(b.rep.Sections), b.rep.Missing)
	}
	s := b.rep.Sections[0]
	if len(s.Tables) != 1 || len(s.Tables[0].Rows) != 4 || s.Tables[0].Rows[1][2] != "[1.100, 1.300]" || s.Tables[0].Rows[1][5] != "unclear" {
		t.Errorf("table %+v: want one row per probe with its interval and side", s.Tables)
	}
	if len(s.Charts) != 1 || s.Charts[0].Points != 4 {
		t.Fatalf("charts %+v: want one chart of 4 probes", s.Charts)
	}
	svg := string(s.Charts[0].SVG)
	for _, want := range []string{"<svg", "threshold 1.2", "crossing ≈ 32.0 conns", "ratio with its interval"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if says := strings.Join(b.rep.Says, "\n"); !strings.Contains(says, "between 1 and 1024 connections (≈ 32.0; 9 samples)") {
		t.Errorf("findings %q: want the crossing", says)
	}

	if err := os.WriteFile(filepath.Join(dir, crossover.FileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	b = &builder{r: &Run{Dir: dir}, rep: &Report{}}
	crossoverCurve(b)
	if len(b.rep.Sections) != 0 || len(b.rep.Missing) != 1 || !strings.Contains(b.rep.Missing[0], "crossover.json") {
		t.Errorf("broken crossover.json: sections %d, missing %v: want it named missing", len(b.rep.Sections), b.rep.Missing)
	}
}
