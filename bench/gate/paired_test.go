package gate

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// drift is a machine whose speed wanders ±25% from round to round, the
// same for both sides of a round.
func drift(i int) float64 { return 1 + 0.25*math.Sin(float64(i)*1.7) }

func TestComparePaired(t *testing.T) {
	t.Parallel()
	names := []string{"model=fasthttp/route=app"}
	tight := &Policy{MinSamples: 4, Rules: []Rule{
		{Unit: "ns/op", Threshold: 0.01, Alpha: 0.05},
		{Unit: "allocs/op", AnyWorse: true, Alpha: 0.05},
	}}
	base := results(names, 10, func(_ string, i int) (float64, float64) { return 1000 * drift(i), 0 })
	// Head is 3% slower in every round, with ±0.3% of its own noise.
	plus3 := results(names, 10, func(_ string, i int) (float64, float64) {
		return 1030 * drift(i) * (1 + 0.003*float64(i%3-1)), 0
	})
	// A/A: no change, ±1% of independent noise per round.
	same := results(names, 10, func(_ string, i int) (float64, float64) { return 1000 * drift(i) * (1 + 0.01*float64(i%3-1)), 0 })
	oneAlloc := results(names, 10, func(_ string, i int) (float64, float64) { return 1000 * drift(i), 1 })

	for _, tt := range []struct {
		name      string
		head      string
		cmp       func(b, h string) (*Verdict, error)
		wantExit  int
		wantUnits []string
	}{
		{"paired catches +3% under ±25% drift", plus3, paired(tight), ExitRegression, []string{"sec/op"}},
		{"unpaired misses the same +3%", plus3, unpaired(tight), ExitOK, nil},
		{"paired A/A passes", same, paired(tight), ExitOK, nil},
		{"paired still catches 0 → 1 allocs", oneAlloc, paired(tight), ExitRegression, []string{"allocs/op"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := tt.cmp(base, tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.ExitCode(); got != tt.wantExit {
				t.Fatalf("exit %d, want %d; findings %v", got, tt.wantExit, v.Findings)
			}
			var units []string
			for _, f := range v.Regressions() {
				units = append(units, f.Unit)
			}
			if strings.Join(units, ",") != strings.Join(tt.wantUnits, ",") {
				t.Errorf("regressions in %v, want %v", units, tt.wantUnits)
			}
		})
	}
}

func paired(p *Policy) func(b, h string) (*Verdict, error) {
	return func(b, h string) (*Verdict, error) {
		return ComparePaired(strings.NewReader(b), strings.NewReader(h), p)
	}
}

func unpaired(p *Policy) func(b, h string) (*Verdict, error) {
	return func(b, h string) (*Verdict, error) { return Compare(strings.NewReader(b), strings.NewReader(h), p) }
}

// TestCPUTimeIsLowerBetter: cpu-ns/op (benchfmt reads it as cpu-sec/op,
// a unit it has no direction for) is gated as a time: a rise fails.
func TestCPUTimeIsLowerBetter(t *testing.T) {
	t.Parallel()
	p := &Policy{MinSamples: 4, Rules: []Rule{{Unit: "cpu-ns/op", Threshold: 0.01, Alpha: 0.05}}}
	render := func(cpu float64) string {
		var b strings.Builder
		for i := range 8 {
			fmt.Fprintf(&b, "BenchmarkServer/x\t1000\t%g ns/op\t%g cpu-ns/op\n", 1000.0, cpu*(1+0.002*float64(i%3-1)))
		}
		return b.String()
	}
	for _, cmp := range []func(b, h string) (*Verdict, error){paired(p), unpaired(p)} {
		v, err := cmp(render(1000), render(1100))
		if err != nil {
			t.Fatal(err)
		}
		if r := v.Regressions(); len(r) != 1 || r[0].Unit != "cpu-sec/op" {
			t.Errorf("cpu-ns/op +10%%: regressions %v, want one in cpu-sec/op; findings %v", r, v.Findings)
		}
	}
}

// TestDisturbedPairs: a pair in which a side waited for its CPU (wall time
// well over CPU time) is left out; when too few pairs are undisturbed,
// wall-time units are not gated and cpu-ns/op decides.
func TestDisturbedPairs(t *testing.T) {
	t.Parallel()
	p := &Policy{MinSamples: 4, Rules: []Rule{{Unit: "ns/op", Threshold: 0.01, Alpha: 0.05}, {Unit: "cpu-ns/op", Threshold: 0.01, Alpha: 0.05}}}
	// render: sample i takes cpu ns of CPU time and wait(i) times that of
	// wall time.
	render := func(cpu float64, wait func(i int) float64) string {
		var b strings.Builder
		for i := range 16 {
			c := cpu * (1 + 0.002*float64(i%3-1))
			fmt.Fprintf(&b, "BenchmarkServer/x\t1000\t%g ns/op\t%g cpu-ns/op\n", c*wait(i), c)
		}
		return b.String()
	}
	quiet := func(int) float64 { return 1.001 }
	// Head waited 30% in pairs 3 and 12: its ns/op there is an outlier.
	twoHit := func(i int) float64 { return map[bool]float64{true: 1.3, false: 1.001}[i == 3 || i == 12] }
	// Both waited, head more often (so more): a busy machine.
	busy := func(i int) float64 { return 1.5 + 0.3*float64(i%2) }
	for _, tt := range []struct {
		name          string
		base, head    string
		wantRegressed []string
		wantLeftOut   int
	}{
		{"two disturbed pairs left out", render(1000, quiet), render(1000, twoHit), nil, 2},
		{"busy: ns/op not gated, cpu-ns/op decides", render(1000, quiet), render(1000, busy), nil, -1},
		{"busy and 5% more CPU: caught by cpu-ns/op", render(1000, quiet), render(1050, busy), []string{"cpu-sec/op"}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ComparePaired(strings.NewReader(tt.base), strings.NewReader(tt.head), p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range v.Regressions() {
				got = append(got, f.Unit)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantRegressed, ",") {
				t.Errorf("regressions in %v, want %v; findings %v", got, tt.wantRegressed, v.Findings)
			}
			for _, f := range v.Findings {
				if f.Disturbed != tt.wantLeftOut {
					t.Errorf("%s: %d pairs left out as disturbed, want %d", f, f.Disturbed, tt.wantLeftOut)
				}
			}
		})
	}
}

// TestPairedIntervalMustClearThreshold: +1.3% measured ±0.4% is
// significant, yet its interval reaches below the 1% threshold: not a
// regression, and undecided (a sequential gate samples more).
func TestPairedIntervalMustClearThreshold(t *testing.T) {
	t.Parallel()
	p := &Policy{MinSamples: 4, Rules: []Rule{{Unit: "ns/op", Threshold: 0.01, Alpha: 0.05}}}
	names := []string{"x=1"}
	base := results(names, 20, func(_ string, i int) (float64, float64) { return 1000 * drift(i), 0 })
	head := results(names, 20, func(_ string, i int) (float64, float64) {
		return 1013 * drift(i) * (1 + 0.006*float64(i%3-1)), 0
	})
	v, err := ComparePaired(strings.NewReader(base), strings.NewReader(head), p)
	if err != nil {
		t.Fatal(err)
	}
	f := v.Findings[0]
	if f.P >= 0.05 || f.Lo >= 0.01 || f.Hi <= 0.01 {
		t.Fatalf("finding %s: want p < 0.05 and an interval around the 1%% threshold (else this test proves nothing)", f)
	}
	if f.Regression || v.decided() {
		t.Errorf("finding %s: regression %v, decided %v; want neither", f, f.Regression, v.decided())
	}
}
