package gate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
	"golang.org/x/sys/unix"
)

// PairedCPUs are the two CPUs paired execution runs base and head on.
var PairedCPUs = [2]int{0, 1}

// SwapEvery is how often paired execution swaps base's and head's CPUs
// while they run: each sample then spends about half its time on each CPU,
// so a difference between the CPUs (another process pinned to one, a
// hypervisor taking one) hits base and head alike. 0 swaps them only
// between rounds.
var SwapEvery = 10 * time.Millisecond

// samplePair runs base and head at the same moment, each pinned to its own
// CPU, starting on the CPUs of the round (swapped every round) and
// swapping them every SwapEvery while both run: the machine's drift and a
// CPU's slow phase hit both sides of a pair.
func (w *work) samplePair(ctx context.Context, bs, hs *build, args []string, round int) error {
	cpus := PairedCPUs
	if round%2 == 1 {
		cpus[0], cpus[1] = cpus[1], cpus[0]
	}
	errs := make(chan error, 2)
	pids := make(chan int, 2)
	done := make(chan struct{})
	var pid [2]int
	for i, s := range []*build{bs, hs} {
		go func() { errs <- w.samplePinned(ctx, s, args, cpus[i], pids) }()
	}
	go func() {
		// Swap while both run; the first to start takes the first CPU
		// of the round only by chance, which is fine: they swap anyway.
		for i := range pid {
			select {
			case pid[i] = <-pids:
			case <-done:
				return
			}
		}
		if SwapEvery <= 0 {
			return
		}
		t := time.NewTicker(SwapEvery)
		defer t.Stop()
		for flip := 1; ; flip ^= 1 {
			select {
			case <-t.C:
			case <-done:
				return
			}
			// Whichever moves first briefly joins the other on its CPU:
			// alternate which, so neither always waits.
			for j := range pid {
				i := j ^ flip
				pinProcess(pid[i], cpus[i^flip])
			}
		}
	}()
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	close(done)
	return first
}

// pinProcess moves every thread of process pid to cpu; threads that exit
// meanwhile, or a process that has, are skipped.
func pinProcess(pid, cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			unix.SchedSetaffinity(tid, &set) //nolint:errcheck // the thread may have exited
		}
	}
}

// samplePinned runs sample from a thread pinned to cpu: the child inherits
// the thread's CPU mask when it is forked, before it starts any thread of
// its own; its pid goes to started. The thread's mask is restored before
// it is released.
func (w *work) samplePinned(ctx context.Context, s *build, args []string, cpu int, started chan<- int) error {
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
	return w.sampleStarted(ctx, s, args, started)
}

// readPaired is read keeping each benchmark's samples in file order, so the
// i-th of base and of head can be paired.
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
// the i-th head sample is divided by the i-th base sample (one pair, taken
// at the same moment), and a t-test on the logarithms of these ratios asks
// whether their (trimmed) geometric mean differs from 1; Delta is that
// mean minus 1, Lo and Hi its confidence interval. A rule with a threshold
// counts a regression only when the whole interval is worse than the
// threshold.
// Pairs in which either side was disturbed (MaxWait) are left out. Units
// with a zero (0 → 1 allocs/op) or unequal counts fall back to Compare's
// unpaired test. Each pair is taken as its own round (CPUs swapped between
// pairs); the gate, which takes several pairs per round, uses comparePairs.
func ComparePaired(base, head io.Reader, p *Policy) (*Verdict, error) {
	return compare(base, head, p, 1)
}

// comparePairs is ComparePaired on results whose pairs came perRound to a
// round, the CPUs swapped between rounds.
func comparePairs(base, head []byte, p *Policy, perRound int) (*Verdict, error) {
	return compare(bytes.NewReader(base), bytes.NewReader(head), p, perRound)
}

// MaxWait is how much longer than its CPU time (beyond the least seen in
// the benchmark) a paired sample's wall time may be: a sample over it spent
// that share of its time waiting for its CPU (another process ran there, or
// the hypervisor took the CPU), which slows it by an amount that has
// nothing to do with its code, so its pair is left out.
const MaxWait = 0.03

// undisturbed marks the pairs in which neither side waited for its CPU
// more than MaxWait beyond the least any sample of the benchmark waited,
// by the samples' ns/op and cpu-ns/op; nil when either is missing.
func undisturbed(b, h map[string][]float64) []bool {
	bw, bc, hw, hc := b["sec/op"], b["cpu-sec/op"], h["sec/op"], h["cpu-sec/op"]
	n := len(bw)
	if n == 0 || len(bc) != n || len(hw) != n || len(hc) != n {
		return nil
	}
	wait := func(w, c float64) float64 {
		if c <= 0 {
			return math.Inf(1)
		}
		return w / c
	}
	least := math.Inf(1)
	for i := range n {
		least = min(least, wait(bw[i], bc[i]), wait(hw[i], hc[i]))
	}
	ok := make([]bool, n)
	for i := range n {
		ok[i] = max(wait(bw[i], bc[i]), wait(hw[i], hc[i])) <= least*(1+MaxWait)
	}
	return ok
}

// pairedFinding tests per-pair ratios; ok is false when they do not apply.
// The estimate is the trimmed mean of the log ratios taken with base on
// the first CPU and that of those taken with base on the second, averaged,
// so a speed difference between the CPUs (another process pinned to one of
// them) cancels even when the two counts differ; its standard error adds
// the two groups' (Yuen's), so that difference does not count as noise.
func pairedFinding(k, u string, b, h map[string][]float64, perRound int, rule *Rule, units benchfmt.UnitMetadataMap) (Finding, bool) {
	bv, hv := b[u], h[u]
	if len(bv) != len(hv) || len(bv) < 2 {
		return Finding{}, false
	}
	for i := range bv {
		if bv[i] <= 0 || hv[i] <= 0 {
			return Finding{}, false
		}
	}
	a := units.GetAssumption(u)
	t := benchmath.DefaultThresholds
	f := Finding{Benchmark: k, Unit: u, N: [2]int{len(bv), len(hv)},
		Base: a.Summary(benchmath.NewSample(bv, &t), 0.95).Center, Head: a.Summary(benchmath.NewSample(hv, &t), 0.95).Center}
	keep := undisturbed(b, h)
	var groups [2][]float64
	for i := range bv {
		if keep == nil || keep[i] {
			g := (i / max(perRound, 1)) % 2
			groups[g] = append(groups[g], math.Log(hv[i]/bv[i]))
		}
	}
	if len(groups[0]) < 3 || len(groups[1]) < 3 {
		// Too few undisturbed pairs with base on either CPU: test them
		// all (trimmed), and say so; a wall-time unit is then not gated
		// (see wallTime).
		f.Disturbed = -1
		groups = [2][]float64{}
		for i := range bv {
			g := (i / max(perRound, 1)) % 2
			groups[g] = append(groups[g], math.Log(hv[i]/bv[i]))
		}
	} else {
		f.Disturbed = len(bv) - len(groups[0]) - len(groups[1])
	}
	mean, se, df := pairedMean(groups)
	f.Pairs = len(groups[0]) + len(groups[1])
	f.Delta = math.Exp(mean) - 1
	f.P, f.Lo, f.Hi = 1, math.Inf(-1), math.Inf(1)
	switch {
	case se > 0 && df > 0:
		td := stats.TDist{V: float64(df)}
		f.P = 2 * (1 - td.CDF(math.Abs(mean)/se))
		q := stats.InvCDF(td)(1 - rule.Alpha/2)
		f.Lo, f.Hi = math.Exp(mean-q*se)-1, math.Exp(mean+q*se)-1
	case se == 0 && mean != 0:
		f.P, f.Lo, f.Hi = 0, f.Delta, f.Delta // every pair moved by the same factor
	case se == 0:
		f.Lo, f.Hi = 0, 0
	}
	better := betterOf(units, u)
	f.Regression = regression(f, rule, better)
	if f.Disturbed < 0 && wallTime(u) {
		f.Regression = false
		return f, true
	}
	if rule.AnyWorse || better == 0 {
		return f, true
	}
	// Against a threshold, the whole interval must be past it: a
	// regression is a worsening of at least the threshold, with the
	// rule's confidence. While the interval straddles the threshold the
	// finding is undecided and the gate, sequential, samples more.
	best, worst := f.Lo, f.Hi // the least and most worsening in the interval
	if better > 0 {
		best, worst = -f.Hi, -f.Lo
	}
	f.Regression = f.Regression && best > rule.Threshold
	f.undecided = !f.Regression && worst > rule.Threshold
	return f, true
}

// Trim is the share of pairs trimmed from each end of each CPU group's log
// ratios (Yuen's trimmed mean): a pair that another process disturbed on
// one side only is an outlier in one direction, and a few of them would
// otherwise move the mean or swamp the variance.
const Trim = 0.2

// pairedMean is the mean of the two groups' trimmed means (one group of
// all values when either has fewer than 3), its standard error (Yuen's,
// from the winsorized variance) and degrees of freedom.
func pairedMean(groups [2][]float64) (mean, se float64, df int) {
	if len(groups[0]) < 3 || len(groups[1]) < 3 {
		all := append(append([]float64{}, groups[0]...), groups[1]...)
		if len(all) < 2 {
			return stats.Mean(all), math.Inf(1), 0
		}
		m, v, h := yuen(all)
		return m, math.Sqrt(v), h - 1
	}
	m0, v0, h0 := yuen(groups[0])
	m1, v1, h1 := yuen(groups[1])
	return (m0 + m1) / 2, math.Sqrt(v0+v1) / 2, h0 + h1 - 2
}

// yuen is the Trim-trimmed mean of xs, the square of its standard error
// and the number of values kept.
func yuen(xs []float64) (mean, v float64, kept int) {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	g := int(Trim * float64(n))
	h := n - 2*g
	w := make([]float64, n)
	for i, x := range s {
		w[i] = min(max(x, s[g]), s[n-g-1])
	}
	sw := stats.StdDev(w)
	if h < 2 {
		return stats.Mean(s[g : n-g]), math.Inf(1), h
	}
	return stats.Mean(s[g : n-g]), float64(n-1) * sw * sw / float64(h*(h-1)), h
}

// wallTime reports whether unit measures wall time (ns/op, req/s), which a
// sample that waited for its CPU inflates by however long it waited: on a
// machine too busy for undisturbed pairs, paired mode does not gate these
// units, and cpu-ns/op (the process's CPU time, which waiting does not
// add to) decides.
func wallTime(unit string) bool {
	return unit == "sec/op" || unit == "req/s"
}

// decided reports whether more samples could not change the verdict: it
// cannot compare, or no paired finding is undecided.
func (v *Verdict) decided() bool {
	if v.Cannot != nil {
		return true
	}
	for _, f := range v.Findings {
		if f.undecided {
			return false
		}
	}
	return true
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
