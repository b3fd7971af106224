package gate

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
	"golang.org/x/sys/unix"
)

// PairedCPUs are the two CPUs paired execution runs base and head on.
var PairedCPUs = [2]int{0, 1}

// samplePair runs base and head at the same moment, each pinned to its own
// CPU, swapping the CPUs every round: the machine's drift and a CPU's slow
// phase hit both sides of a pair, and each side spends half its rounds on
// each CPU.
func (w *work) samplePair(ctx context.Context, bs, hs *build, args []string, round int) error {
	cpus := PairedCPUs
	if round%2 == 1 {
		cpus[0], cpus[1] = cpus[1], cpus[0]
	}
	errs := make(chan error, 2)
	for i, s := range []*build{bs, hs} {
		go func() { errs <- w.samplePinned(ctx, s, args, cpus[i]) }()
	}
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// samplePinned runs sample from a thread pinned to cpu: the child inherits
// the thread's CPU mask when it is forked, before it starts any thread of
// its own. The thread's mask is restored before it is released.
func (w *work) samplePinned(ctx context.Context, s *build, args []string, cpu int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("reading the cpu mask: %w", err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pinning %s to cpu %d: %w (paired execution needs cpus %d and %d)", s.name, cpu, err, PairedCPUs[0], PairedCPUs[1])
	}
	defer unix.SchedSetaffinity(0, &old) //nolint:errcheck // the old mask was valid a moment ago
	return w.sample(ctx, s, args)
}

// readPaired is read keeping each benchmark's samples in file order, so the
// i-th of base and of head (one round) can be paired.
func readPaired(base, head io.Reader) (side, side, benchfmt.UnitMetadataMap, error) {
	var pp benchproc.ProjectionParser
	proj, err := pp.Parse(".fullname", nil)
	if err != nil {
		return nil, nil, nil, err
	}
	units := benchfmt.UnitMetadataMap{}
	bs, err := read(base, "base.txt", proj, units)
	if err != nil {
		return nil, nil, nil, err
	}
	hs, err := read(head, "head.txt", proj, units)
	if err != nil {
		return nil, nil, nil, err
	}
	return bs, hs, units, nil
}

// ComparePaired is Compare with a paired test where it applies: for every
// benchmark and unit whose samples are positive and as many on each side,
// the i-th head sample is divided by the i-th base sample (one round), and
// a t-test on the logarithms of these ratios asks whether their geometric
// mean differs from 1; Delta is that mean minus 1. Units with a zero (0 →
// 1 allocs/op) or unequal counts fall back to Compare's unpaired test.
func ComparePaired(base, head io.Reader, p *Policy) (*Verdict, error) {
	return compare(base, head, p, true)
}

// pairedFinding tests per-round ratios; ok is false when they do not apply.
func pairedFinding(k, u string, bv, hv []float64, rule *Rule, units benchfmt.UnitMetadataMap) (Finding, bool) {
	if len(bv) != len(hv) || len(bv) < 2 {
		return Finding{}, false
	}
	logs := make([]float64, len(bv))
	for i := range bv {
		if bv[i] <= 0 || hv[i] <= 0 {
			return Finding{}, false
		}
		logs[i] = math.Log(hv[i] / bv[i])
	}
	a := units.GetAssumption(u)
	t := benchmath.DefaultThresholds
	f := Finding{Benchmark: k, Unit: u, N: [2]int{len(bv), len(hv)},
		Base: a.Summary(benchmath.NewSample(bv, &t), 0.95).Center, Head: a.Summary(benchmath.NewSample(hv, &t), 0.95).Center}
	mean := stats.Mean(logs)
	f.Delta = math.Exp(mean) - 1
	f.P = 1
	if r, err := stats.OneSampleTTest(stats.Sample{Xs: logs}, 0, stats.LocationDiffers); err == nil {
		f.P = r.P
	} else if stats.StdDev(logs) == 0 && mean != 0 {
		f.P = 0 // every round moved by the same factor
	}
	f.Regression = regression(f, rule, units.GetBetter(u))
	return f, true
}

// regression applies a rule to a finding's delta and p.
func regression(f Finding, rule *Rule, better int) bool {
	worse := f.Delta * float64(-better) // > 0 when head is worse
	if better == 0 {
		worse = 0 // direction unknown: never gate
	}
	significant := f.P < rule.Alpha && math.Abs(f.Head-f.Base) >= rule.MinDelta
	if rule.AnyWorse {
		return significant && worse > 0
	}
	return significant && worse > rule.Threshold
}
