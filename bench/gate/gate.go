// Package gate decides whether a head build of poolbench's benchmarks
// regressed against a base build, with benchstat's own machinery (benchfmt
// to read, benchproc to group, benchmath to test) instead of parsing
// benchstat's text. Samples are taken either interleaved (base head head
// base …, one process at a time) or paired (base and head at the same
// moments, one per CPU, swapping CPUs each round; see ComparePaired).
package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
	"golang.org/x/perf/benchunit"
)

// Exit codes of a gate run.
const (
	ExitOK         = 0 // no regression
	ExitRegression = 1 // at least one metric regressed
	ExitCannot     = 2 // could not compare: build failed, too few samples, different benchmarks
)

// Rule is the policy for one unit.
type Rule struct {
	// Unit as written in benchmark output, e.g. "ns/op" or "cpu-ns/op".
	Unit string `json:"unit"`
	// Threshold is the relative worsening that counts, e.g. 0.05 for 5%.
	// With AnyWorse it is ignored.
	Threshold float64 `json:"threshold"`
	// AnyWorse counts any worsening, including 0 → 1 (which benchstat
	// prints as "?").
	AnyWorse bool `json:"any_worse,omitempty"`
	// Alpha is the significance level: p must be below it.
	Alpha float64 `json:"alpha"`
	// MinDelta is an absolute floor: a change smaller than this many units
	// is noise whatever its relative size (e.g. B/op going 0 → 1 when a
	// background allocation lands in a run).
	MinDelta float64 `json:"min_delta,omitempty"`
}

// Policy is the set of rules; units without a rule are not gated.
type Policy struct {
	// MinSamples per side; below it the gate cannot decide (exit 2).
	MinSamples int    `json:"min_samples"`
	Rules      []Rule `json:"rules"`
}

// KnownUnits are the units poolbench's benchmarks report, as written in
// their output; a policy rule for any other unit would never apply, so it is
// refused as a typo.
var KnownUnits = []string{"ns/op", "sec/op", "B/op", "allocs/op", "req/s", "cpu-ns/op",
	"p50-ns", "p99-ns", "p999-ns", "dials/1k-req", "timewait-socks", "rss-bytes/conn", "heap-bytes/conn"}

// LoadPolicy reads a policy file; its errors do not repeat the path.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such file: pass the policy's path, e.g. bench/gate.json")
		}
		return nil, err
	}
	return ParsePolicy(b)
}

// ParsePolicy parses and checks a policy: one JSON object and nothing
// after it, at least one rule, every rule on a known unit with
// 0 < alpha < 1 and threshold >= 0, no unit twice.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the policy object at byte %d: remove it", dec.InputOffset())
	}
	if p.MinSamples < 4 {
		return nil, fmt.Errorf("min_samples=%d: benchstat's U-test needs at least 4 samples per side to call anything significant", p.MinSamples)
	}
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("no rules: a policy without rules gates nothing; add e.g. {\"unit\": \"ns/op\", \"threshold\": 0.05, \"alpha\": 0.05}")
	}
	seen := map[string]bool{}
	for _, r := range p.Rules {
		if !slices.Contains(KnownUnits, r.Unit) {
			return nil, fmt.Errorf("rule unit %q: want one of %s", r.Unit, strings.Join(KnownUnits, ", "))
		}
		if seen[r.Unit] {
			return nil, fmt.Errorf("rule unit %q appears twice: keep one rule per unit", r.Unit)
		}
		seen[r.Unit] = true
		if r.Alpha <= 0 || r.Alpha >= 1 || r.Threshold < 0 || r.MinDelta < 0 {
			return nil, fmt.Errorf("rule %+v: need 0 < alpha < 1, threshold >= 0 and min_delta >= 0", r)
		}
	}
	return &p, nil
}

func (p *Policy) rule(unit string) *Rule {
	for i := range p.Rules {
		if _, u := benchunit.Tidy(1, p.Rules[i].Unit); u == unit || p.Rules[i].Unit == unit {
			return &p.Rules[i]
		}
	}
	return nil
}

// Finding is one benchmark and unit compared.
type Finding struct {
	Benchmark string
	Unit      string
	// Base and Head are the medians.
	Base, Head float64
	// Delta is (Head-Base)/Base; ±Inf when Base is 0 and Head is not.
	Delta float64
	P     float64
	N     [2]int
	// Regression says this finding fails the gate.
	Regression bool
	// Paired only: Lo and Hi bound Delta (confidence 1 - the rule's
	// alpha), Pairs is how many pairs were tested and Disturbed how many
	// were left out as disturbed (-1: too few were undisturbed, so all
	// were tested).
	Lo, Hi           float64
	Pairs, Disturbed int
	undecided        bool
}

// String describes a finding for humans, e.g. "+12.3% (p=0.002 n=6+6)".
func (f Finding) String() string {
	d := fmt.Sprintf("%+.1f%%", 100*f.Delta)
	if math.IsInf(f.Delta, 0) {
		d = fmt.Sprintf("%g → %g", f.Base, f.Head)
	}
	if f.Pairs > 0 {
		left := fmt.Sprintf("%d disturbed left out", f.Disturbed)
		if f.Disturbed < 0 {
			left = "too few undisturbed, all tested"
			if wallTime(f.Unit) {
				left = "too few undisturbed: a wall-time unit, not gated"
			}
		}
		return fmt.Sprintf("%s %s: %s [%+.1f%%, %+.1f%%] (p=%.3f, %d pairs, %s)", f.Benchmark, f.Unit, d, 100*f.Lo, 100*f.Hi, f.P, f.Pairs, left)
	}
	return fmt.Sprintf("%s %s: %s (p=%.3f n=%d+%d)", f.Benchmark, f.Unit, d, f.P, f.N[0], f.N[1])
}

// Verdict is the gate's decision.
type Verdict struct {
	Findings []Finding
	// Cannot, if set, says why no decision could be made.
	Cannot error
}

// Regressions returns the findings that fail the gate.
func (v *Verdict) Regressions() []Finding {
	var out []Finding
	for _, f := range v.Findings {
		if f.Regression {
			out = append(out, f)
		}
	}
	return out
}

// ExitCode is the gate's exit status.
func (v *Verdict) ExitCode() int {
	switch {
	case v.Cannot != nil:
		return ExitCannot
	case len(v.Regressions()) > 0:
		return ExitRegression
	}
	return ExitOK
}

// side holds one side's samples: benchmark key → unit → values.
type side map[string]map[string][]float64

// read groups the results of r by benchmark (the .fullname projection,
// which leaves file-level keys such as commit out) and unit.
func read(r io.Reader, name string, proj *benchproc.Projection, units benchfmt.UnitMetadataMap) (side, error) {
	s := side{}
	rd := benchfmt.NewReader(r, name)
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		key := proj.Project(res).StringValues()
		if s[key] == nil {
			s[key] = map[string][]float64{}
		}
		for _, v := range res.Values {
			s[key][v.Unit] = append(s[key][v.Unit], v.Value)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	for k, v := range rd.Units() {
		units[k] = v
	}
	return s, nil
}

// Compare reads base and head results and applies the policy.
func Compare(base, head io.Reader, p *Policy) (*Verdict, error) {
	return compare(base, head, p, 0)
}

// compare applies the policy to every benchmark and unit with a rule,
// unpaired when perRound is 0, else paired with perRound pairs to a round
// (ComparePaired).
func compare(base, head io.Reader, p *Policy, perRound int) (*Verdict, error) {
	bs, hs, units, err := readPaired(base, head)
	if err != nil {
		return nil, err
	}
	v := checkSides(bs, hs)
	if v.Cannot != nil {
		return v, nil
	}
	keys := make([]string, 0, len(bs))
	for k := range bs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ulist := make([]string, 0, len(bs[k]))
		for u := range bs[k] {
			ulist = append(ulist, u)
		}
		sort.Strings(ulist)
		for _, u := range ulist {
			rule := p.rule(u)
			if rule == nil {
				continue
			}
			bv, hv := bs[k][u], hs[k][u]
			if len(bv) < p.MinSamples || len(hv) < p.MinSamples {
				v.Cannot = fmt.Errorf("%s %s: %d base and %d head samples, need %d per side: raise --count", k, u, len(bv), len(hv), p.MinSamples)
				return v, nil
			}
			f, ok := Finding{}, false
			if perRound > 0 {
				f, ok = pairedFinding(k, u, bs[k], hs[k], perRound, rule, units)
			}
			if !ok {
				f = unpairedFinding(k, u, bv, hv, rule, units)
			}
			v.Findings = append(v.Findings, f)
		}
	}
	return v, nil
}

// checkSides is an empty verdict, or one that cannot decide because a side
// has no results or the sides ran different benchmarks.
func checkSides(bs, hs side) *Verdict {
	v := &Verdict{}
	if len(bs) == 0 || len(hs) == 0 {
		v.Cannot = fmt.Errorf("no benchmark results on the %s side", map[bool]string{true: "base", false: "head"}[len(bs) == 0])
		return v
	}
	var missing []string
	for k := range bs {
		if hs[k] == nil {
			missing = append(missing, "only in base: "+k)
		}
	}
	for k := range hs {
		if bs[k] == nil {
			missing = append(missing, "only in head: "+k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		v.Cannot = fmt.Errorf("the benchmark sets differ (%s): compare revisions that run the same cells", strings.Join(missing, "; "))
	}
	return v
}

// unpairedFinding compares two samples with the unit's assumption
// (benchstat's: medians and a Mann-Whitney U test for most units).
func unpairedFinding(k, u string, bv, hv []float64, rule *Rule, units benchfmt.UnitMetadataMap) Finding {
	t := benchmath.DefaultThresholds
	t.CompareAlpha = rule.Alpha
	a := units.GetAssumption(u)
	sb, sh := benchmath.NewSample(bv, &t), benchmath.NewSample(hv, &t)
	f := Finding{Benchmark: k, Unit: u, Base: a.Summary(sb, 0.95).Center, Head: a.Summary(sh, 0.95).Center, N: [2]int{len(bv), len(hv)}}
	f.P = a.Compare(sb, sh).P
	switch {
	case f.Base == f.Head:
	case f.Base == 0:
		f.Delta = math.Inf(int(math.Copysign(1, f.Head)))
	default:
		f.Delta = (f.Head - f.Base) / math.Abs(f.Base)
	}
	f.Regression = regression(f, rule, betterOf(units, u))
	return f
}

// betterOf is the unit's direction (+1 higher is better, -1 lower, 0
// unknown): benchfmt's, where a Unit line or its defaults know it, else
// lower for every time per op (cpu-ns/op, read as cpu-sec/op), which
// benchfmt leaves unknown.
func betterOf(units benchfmt.UnitMetadataMap, u string) int {
	if b := units.GetBetter(u); b != 0 {
		return b
	}
	if strings.HasSuffix(u, "sec/op") {
		return -1
	}
	return 0
}
