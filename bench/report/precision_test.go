package report

import (
	"fmt"
	"strings"
	"testing"
)

// TestPrecisionSection plants two in-process cells with known spreads: the
// section must print their coefficients of variation, mark the one over the
// target, and compute the per-round ratio's spread from the paired rounds.
func TestPrecisionSection(t *testing.T) {
	var b strings.Builder
	b.WriteString("goos: linux\n\n")
	// fasthttp 1000 ns ± 1% (CV 1.0%); nethttp doubles round by round
	// except the last (ratio 0.5, 0.5, 0.5, 0.6: a known ratio spread).
	fast := []float64{990, 1010, 990, 1010}
	slow := []float64{1980, 2020, 1980, 1683.33}
	for i := range fast {
		for _, m := range []struct {
			name string
			v    float64
		}{{"fasthttp", fast[i]}, {"nethttp", slow[i]}} {
			fmt.Fprintf(&b, "BenchmarkServer/transport=inmem/model=%s/route=app/load=keepalive/conns=16/pool=on/conv=on/reuse=on-2 1 %g ns/op\n", m.name, m.v)
		}
	}
	r := readBench(t, b.String())
	rep := Build(r)
	var sec *Section
	for i := range rep.Sections {
		if rep.Sections[i].ID == "precision" {
			sec = rep.Sections[i]
		}
	}
	if sec == nil || len(sec.Tables) != 2 {
		t.Fatalf("precision section %+v: want a cell table and a ratio table", sec)
	}
	row := sec.Tables[0].Rows[0]
	// CVs: fasthttp 1.2%, nethttp 8.2% → median (the upper of two) and worst 8.2%.
	if row[0] != "in-process" || row[2] != "2" || !strings.HasPrefix(row[4], "8.2% (above 5%)") || !strings.Contains(row[5], "nethttp") {
		t.Errorf("cell row %q: want 2 in-process cells, worst 8.2%% above the 5%% target, nethttp worst", row)
	}
	ratio := sec.Tables[1].Rows[0]
	// per-round fasthttp/nethttp: 0.5, 0.5, 0.5, 0.6 → CV 9.5%
	if ratio[2] != "1" || !strings.HasPrefix(ratio[3], "9.5% (above 3%)") {
		t.Errorf("ratio row %q: want one pair with a 9.5%% spread, above the 3%% target", ratio)
	}
	found := false
	for _, f := range rep.Says {
		found = found || strings.Contains(f, "Precision: spread above target in in-process ns/op")
	}
	if !found {
		t.Errorf("findings %q: want the precision finding", rep.Says)
	}
}
