package results

import (
	"strings"
	"testing"
)

func TestWriteLineAndUnits(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := WriteLine(&b, "Proc/model=x", 1200, []Metric{{Value: 833.5, Unit: "ns/op"}, {Value: 1200, Unit: "req/s"}, {Value: 1.0 / 3, Unit: "allocs/op"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "BenchmarkProc/model=x\t1200\t833.5 ns/op\t1200 req/s\t0.333333 allocs/op\n"; got != want {
		t.Errorf("WriteLine wrote %q, want %q", got, want)
	}
	b.Reset()
	if err := WriteUnits(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(Units)+len(CostUnits) || lines[0] != "Unit req/s better=higher" || lines[2] != "Unit p50-ns better=lower" {
		t.Errorf("WriteUnits wrote %q, want one `Unit <name> better=…` line per unit, req/s first", lines)
	}
}
