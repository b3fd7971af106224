package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"strings"
	"time"
)

// coverage is the least confidence the interval of a median must have.
const coverage = 0.90

// interval returns the median of v and a distribution-free confidence
// interval of it, [v(k), v(n+1-k)] of the sorted values with the narrowest k
// whose coverage, 1 − 2·P(Binomial(n, ½) < k), is still ≥ coverage, and
// that coverage. With fewer than 5 values no interval reaches 90%: it
// returns the range and its coverage.
func interval(v []float64) (med, lo, hi, cov float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	k, cov := 1, 1-2*binomCDF(n, 0)
	for k+1 <= n/2 {
		c := 1 - 2*binomCDF(n, k)
		if c < coverage {
			break
		}
		k, cov = k+1, c
	}
	return med, s[k-1], s[n-k], cov
}

// binomCDF is P(Binomial(n, ½) ≤ k).
func binomCDF(n, k int) float64 {
	p, c := 0.0, 1.0 // c = C(n, i)
	for i := 0; i <= k; i++ {
		p += c
		c = c * float64(n-i) / float64(i+1)
	}
	return p / math.Pow(2, float64(n))
}

// verdict is what an interval of ours ÷ theirs says about ±tol.
type verdict int

const (
	holds verdict = iota
	fails
	undecided
)

func judge(lo, hi, tol float64) verdict {
	switch {
	case lo >= 1-tol && hi <= 1+tol:
		return holds
	case hi < 1-tol || lo > 1+tol:
		return fails
	}
	return undecided
}

func (v verdict) say(tol float64) string {
	return [...]string{
		fmt.Sprintf("±%.0f%% HOLDS: the whole interval is inside", 100*tol),
		fmt.Sprintf("±%.0f%% FAILS: the whole interval is outside", 100*tol),
		fmt.Sprintf("±%.0f%% UNDECIDED: the interval straddles a bound; run more -rounds or on a quieter machine", 100*tol),
	}[v]
}

// perRound returns net/http ÷ fasthttp of one harness in every round, of CPU
// or of wall time.
func perRound(runs [2][]sample, cpu bool) []float64 {
	out := make([]float64, len(runs[0]))
	for i := range out {
		if cpu {
			out[i] = runs[1][i].cpu / runs[0][i].cpu
		} else {
			out[i] = runs[1][i].wall / runs[0][i].wall
		}
	}
	return out
}

// oursOverTheirs returns ours ÷ theirs of the CPU ratios of shape si, per round.
func oursOverTheirs(res result, si int) []float64 {
	t, o := perRound(res.runs[si][theirs], true), perRound(res.runs[si][ours], true)
	q := make([]float64, len(t))
	for i := range q {
		q[i] = o[i] / t[i]
	}
	return q
}

// verdicts judges every shape's interval of ours ÷ theirs against ±tol.
func verdicts(res result, tol float64) []verdict {
	out := make([]verdict, len(shapes))
	for si := range shapes {
		_, lo, hi, _ := interval(oursOverTheirs(res, si))
		out[si] = judge(lo, hi, tol)
	}
	return out
}

func values(s []sample, f func(sample) float64) []float64 {
	out := make([]float64, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}

func median(v []float64) float64 {
	m, _, _, _ := interval(v)
	return m
}

func cpuOf(s sample) float64  { return s.cpu }
func wallOf(s sample) float64 { return s.wall }

// render prints, per shape, both harnesses' tables and the per-round ours ÷
// theirs ratios with their median, interval and verdict; false unless ±tol
// holds for every shape.
func render(w io.Writer, res result, tol float64) bool {
	ok := true
	rounds := len(res.runs[0][0][0])
	var shares []float64
	for _, sr := range res.runs {
		for _, hr := range sr {
			for _, mr := range hr {
				shares = append(shares, values(mr, func(s sample) float64 { return s.share })...)
			}
		}
	}
	fmt.Fprintf(w, "fakeconn-check: fasthttp's server_timing_test.go vs poolbench transport=fakeconn route=plaintext, conns=%d (runtime.NumCPU, as fasthttp's suite), -cpu 1\n", res.conns)
	fmt.Fprintf(w, "machine: %d CPUs, load average %s at start and %s at end; each benchmark process got %.0f%% of a CPU (median; 100%% = no contention)\n",
		runtime.NumCPU(), res.load[0], res.load[1], 100*median(shares))
	added := ""
	if rounds > res.asked {
		added = fmt.Sprintf(" (%d asked, %d more while a verdict was undecided)", res.asked, rounds-res.asked)
	}
	fmt.Fprintf(w, "%d interleaved rounds%s in %v; ratio = net/http ÷ fasthttp per request; [lo–hi] = the ≥%.0f%% interval of the median over rounds\n\n",
		rounds, added, res.elapsed.Round(time.Second), 100*coverage)
	for si, s := range shapes {
		fmt.Fprintf(w, "%s (fasthttp's %s)\n", s.name, s.like)
		fmt.Fprintf(w, "  %-30s %9s %9s %7s %15s │ %9s %9s %7s %15s\n", "harness",
			"fh cpu-ns", "nh cpu-ns", "ratio", "interval", "fh ns/op", "nh ns/op", "ratio", "interval")
		for h := range 2 {
			fmt.Fprintf(w, "  %-30s", harnessNames[h])
			for i, get := range []func(sample) float64{cpuOf, wallOf} {
				if i == 1 {
					fmt.Fprint(w, " │")
				}
				m, lo, hi, _ := interval(perRound(res.runs[si][h], i == 0))
				fmt.Fprintf(w, " %9.0f %9.0f %6.2f× %15s", median(values(res.runs[si][h][0], get)), median(values(res.runs[si][h][1], get)),
					m, fmt.Sprintf("[%.2f–%.2f]", lo, hi))
			}
			fmt.Fprintln(w)
		}
		q := oursOverTheirs(res, si)
		strs := make([]string, len(q))
		for i, x := range q {
			strs[i] = fmt.Sprintf("%.3f", x)
		}
		m, lo, hi, cov := interval(q)
		v := judge(lo, hi, tol)
		if v != holds {
			ok = false
		}
		fmt.Fprintf(w, "  ours ÷ theirs (CPU ratio) per round: %s\n", strings.Join(strs, " "))
		fmt.Fprintf(w, "  ours ÷ theirs: median %.3f (%+.1f%%), %.0f%% interval [%.3f–%.3f] → %s\n\n",
			m, 100*(m-1), 100*cov, lo, hi, v.say(tol))
	}
	return ok
}
