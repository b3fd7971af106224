package gate

import (
	"fmt"
	"strings"
	"testing"
)

// TestThresholdAndAlphaEdges puts synthetic samples just inside and just
// outside the policy's threshold and alpha, so a gate whose threshold or
// alpha drifted (doubled, halved) fails here.
func TestThresholdAndAlphaEdges(t *testing.T) {
	t.Parallel()
	p := &Policy{MinSamples: 4, Rules: []Rule{{Unit: "ns/op", Threshold: 0.05, Alpha: 0.05}}}
	// Twelve values 5% apart; head takes the listed ranks, base the rest.
	// With 6+6 samples the U-test's p depends only on the ranks.
	split := func(headRanks ...int) (base, head []float64) {
		in := map[int]bool{}
		for _, r := range headRanks {
			in[r] = true
		}
		for k := range 12 {
			v := 1000 * (1 + 0.05*float64(k))
			if in[k] {
				head = append(head, v)
			} else {
				base = append(base, v)
			}
		}
		return base, head
	}
	steady := func(center float64) []float64 {
		return []float64{center * 0.999, center, center * 1.001, center * 0.9995, center * 1.0005, center}
	}
	lines := func(vs []float64) string {
		var b strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&b, "BenchmarkServer/x=1\t1000\t%g ns/op\n", v)
		}
		return b.String()
	}
	tests := []struct {
		name       string
		base, head []float64
		wantP      [2]float64 // p must lie in this range, else the samples no longer test the edge
		regression bool
	}{
		// Threshold 5%: separated samples (p ≈ 0.002), medians 4.5% and 5.5% apart.
		{"4.5% slower: inside the threshold", steady(1000), steady(1045), [2]float64{0, 0.01}, false},
		{"5.5% slower: outside the threshold", steady(1000), steady(1055), [2]float64{0, 0.01}, true},
		// Alpha 0.05: medians 22% apart, ranks overlapping so p ≈ 0.041 and ≈ 0.065.
		{"p just inside alpha", nil, nil, [2]float64{0.035, 0.05}, true},
		{"p just outside alpha", nil, nil, [2]float64{0.05, 0.08}, false},
	}
	tests[2].base, tests[2].head = split(5, 6, 7, 8, 9, 11)
	tests[3].base, tests[3].head = split(5, 6, 7, 8, 9, 10)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Compare(strings.NewReader(lines(tt.base)), strings.NewReader(lines(tt.head)), p)
			if err != nil {
				t.Fatal(err)
			}
			if v.Cannot != nil || len(v.Findings) != 1 {
				t.Fatalf("findings %v, cannot %v: want one finding", v.Findings, v.Cannot)
			}
			f := v.Findings[0]
			if f.P < tt.wantP[0] || f.P >= tt.wantP[1] {
				t.Fatalf("p = %.4f, want in [%g, %g): the samples no longer test the edge", f.P, tt.wantP[0], tt.wantP[1])
			}
			if f.Regression != tt.regression {
				t.Errorf("%s: regression = %v, want %v (threshold 5%%, alpha 0.05)", f, f.Regression, tt.regression)
			}
		})
	}
}

// TestParsePolicyRefuses checks the policy reader refuses what would gate
// nothing, or something other than what is written.
func TestParsePolicyRefuses(t *testing.T) {
	t.Parallel()
	const rule = `{"unit": "ns/op", "threshold": 0.05, "alpha": 0.05}`
	tests := []struct{ name, body, want string }{
		{"empty rules", `{"min_samples": 4, "rules": []}`, "no rules"},
		{"no rules key", `{"min_samples": 4}`, "no rules"},
		{"unknown unit", `{"min_samples": 4, "rules": [{"unit": "nsop", "threshold": 0.05, "alpha": 0.05}]}`, `rule unit "nsop"`},
		{"trailing garbage", `{"min_samples": 4, "rules": [` + rule + `]} x`, "trailing data"},
		{"second object", `{"min_samples": 4, "rules": [` + rule + `]} {}`, "trailing data"},
		{"duplicate unit", `{"min_samples": 4, "rules": [` + rule + `,` + rule + `]}`, "appears twice"},
		{"alpha 1", `{"min_samples": 4, "rules": [{"unit": "ns/op", "threshold": 0.05, "alpha": 1}]}`, "0 < alpha < 1"},
		{"unknown field", `{"min_samples": 4, "rulez": []}`, "unknown field"},
		{"few samples", `{"min_samples": 3, "rules": [` + rule + `]}`, "min_samples=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePolicy([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy(%s) = %v, want an error containing %q", tt.body, err, tt.want)
			}
		})
	}
	if _, err := ParsePolicy([]byte(`{"min_samples": 4, "rules": [` + rule + `]}` + "\n")); err != nil {
		t.Errorf("a valid policy with a trailing newline was refused: %v", err)
	}
}

// FuzzParsePolicy: the policy reader never panics, and what it accepts has
// rules that all apply.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"min_samples": 4, "rules": [{"unit": "ns/op", "threshold": 0.05, "alpha": 0.05}]}`))
	f.Add([]byte(`{"min_samples": 4, "rules": []}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b)
		if err != nil {
			return
		}
		if len(p.Rules) == 0 || p.MinSamples < 4 {
			t.Fatalf("accepted %q: %+v", b, p)
		}
		for _, r := range p.Rules {
			if p.rule(r.Unit) == nil {
				t.Fatalf("accepted rule %+v that never applies", r)
			}
		}
	})
}
