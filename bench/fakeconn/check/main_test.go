package main

import (
	"bytes"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := "goos: linux\nBenchmarkServerGet1ReqPerConn \t  284007\t      5395 ns/op\t 0 B/op\nPASS\n"
	n, ns, err := parseBench(out)
	if err != nil || n != 284007 || ns != 5395 {
		t.Errorf("parseBench = %d, %v, %v: want 284007, 5395", n, ns, err)
	}
	for name, bad := range map[string]string{
		"none": "PASS\n",
		"two":  "BenchmarkA 10 5 ns/op\nBenchmarkB 10 6 ns/op\n",
		"n":    "BenchmarkA x 5 ns/op\n",
	} {
		if _, _, err := parseBench(bad); err == nil {
			t.Errorf("%s: parseBench(%q) = nil error", name, bad)
		}
	}
}

func TestInterval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n                int
		med, lo, hi, cov float64
	}{
		{5, 3, 1, 5, 1 - 2.0/32},       // k=1
		{9, 5, 2, 8, 1 - 2*10.0/512},   // k=2; k=3 covers 82%
		{11, 6, 3, 9, 1 - 2*67.0/2048}, // k=3; k=4 covers 71%
		{6, 3.5, 1, 6, 1 - 2.0/64},     // even n: mean of the middle two
	} {
		v := make([]float64, c.n)
		for i := range v {
			v[i] = float64(c.n - i) // unsorted on purpose
		}
		med, lo, hi, cov := interval(v)
		if med != c.med || lo != c.lo || hi != c.hi || math.Abs(cov-c.cov) > 1e-9 {
			t.Errorf("interval of 1..%d = %v [%v–%v] %.4f, want %v [%v–%v] %.4f", c.n, med, lo, hi, cov, c.med, c.lo, c.hi, c.cov)
		}
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lo, hi float64
		want   verdict
	}{
		{0.95, 1.05, holds}, {0.90, 1.10, holds},
		{0.85, 0.89, fails}, {1.11, 1.3, fails},
		{0.85, 0.95, undecided}, {1.05, 1.2, undecided}, {0.8, 1.2, undecided},
	} {
		if got := judge(c.lo, c.hi, 0.10); got != c.want {
			t.Errorf("judge([%v–%v], 10%%) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
}

// TestOrderCancelsLinearDrift: in every round each harness runs its two
// models the same number of places apart, so a drift linear in time
// cancels in ours ÷ theirs, and each (harness, model) runs once.
func TestOrderCancelsLinearDrift(t *testing.T) {
	t.Parallel()
	for r := range 4 {
		var pos [2][2]int
		seen := map[[2]int]bool{}
		for i, o := range order(r) {
			pos[o[0]][o[1]] = i
			seen[o] = true
		}
		if len(seen) != 4 || len(order(r)) != 4 {
			t.Errorf("round %d: order %v, want each of the 4 (harness, model) once", r, order(r))
		}
		if d0, d1 := pos[theirs][1]-pos[theirs][0], pos[ours][1]-pos[ours][0]; d0 != d1 {
			t.Errorf("round %d: net/http runs %d places after fasthttp for theirs, %d for ours: want the same", r, d0, d1)
		}
	}
}

// fake returns rounds where theirs is fasthttp 100, net/http 500 CPU ns and
// ours is fasthttp 100, net/http 500·q[i].
func fake(q []float64) [2][2][]sample {
	var h [2][2][]sample
	for _, x := range q {
		h[theirs][0] = append(h[theirs][0], sample{cpu: 100, wall: 100, share: 1})
		h[theirs][1] = append(h[theirs][1], sample{cpu: 500, wall: 500, share: 1})
		h[ours][0] = append(h[ours][0], sample{cpu: 100, wall: 100, share: 1})
		h[ours][1] = append(h[ours][1], sample{cpu: 500 * x, wall: 500 * x, share: 1})
	}
	return h
}

func TestRenderVerdict(t *testing.T) {
	t.Parallel()
	same := []float64{1, 1, 1, 1, 1}
	for _, c := range []struct {
		name string
		q    []float64
		ok   bool
		say  string
	}{
		{"inside", []float64{0.97, 1.02, 0.99, 1.05, 0.93}, true, "HOLDS"},
		{"outside", []float64{0.85, 0.8, 0.88, 0.83, 0.86}, false, "FAILS"},
		{"one wild round", []float64{0.97, 1.02, 0.99, 1.05, 1.5}, false, "UNDECIDED"},
	} {
		res := result{runs: [][2][2][]sample{fake(c.q), fake(same)}, asked: 5, conns: 2, load: [2]string{"0.1 0.2 0.3", "0.1 0.2 0.3"}}
		var b bytes.Buffer
		if got := render(&b, res, 0.10); got != c.ok {
			t.Errorf("%s: render = %v, want %v\n%s", c.name, got, c.ok, b.String())
		}
		out := b.String()
		first, second, _ := strings.Cut(out, "keepalive")
		if !strings.Contains(first, c.say) || !strings.Contains(second, "HOLDS") {
			t.Errorf("%s: want %s for shortlived and HOLDS for keepalive in:\n%s", c.name, c.say, out)
		}
		if !strings.Contains(out, "5.00×") {
			t.Errorf("%s: output lacks fasthttp's 5.00× ratio:\n%s", c.name, out)
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-rounds", "4"}, {"-cpu-per-run", "1ms"}, {"-tolerance", "2"}, {"-max-time", "-1s"}, {"-nope"}, {"extra"}} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run(%q) = %d with %q, want 2 and a message", args, code, stderr.String())
		}
	}
}

// TestMoreRoundsInPairs: rounds beyond -rounds come in pairs, as long as
// more says so, so forward and backward orders stay balanced.
func TestMoreRoundsInPairs(t *testing.T) {
	t.Parallel()
	for yes, want := range []int{5, 7, 9, 11} {
		calls, n := 0, 0
		more := func() bool { calls++; return calls <= yes }
		for r := 0; another(r, 5, more); r++ {
			n++
		}
		if n != want {
			t.Errorf("more true %d times: %d rounds, want %d", yes, n, want)
		}
	}
}

// TestVerdictsAddRoundsWhileUndecided: an undecided shape becomes decided
// when more rounds narrow the interval, which is what extra rounds are for.
func TestVerdictsAddRoundsWhileUndecided(t *testing.T) {
	t.Parallel()
	wide := []float64{0.95, 1.2, 1.0, 1.15, 0.97}
	res := result{runs: [][2][2][]sample{fake(wide), fake([]float64{1, 1, 1, 1, 1})}}
	if v := verdicts(res, 0.10); v[0] != undecided || v[1] != holds {
		t.Fatalf("verdicts of 5 wide rounds = %v, want [undecided holds]", v)
	}
	narrow := append(wide, 1.01, 0.99, 1.02, 1.0, 0.98, 1.03, 1.0)
	res = result{runs: [][2][2][]sample{fake(narrow), fake(slices.Repeat([]float64{1}, len(narrow)))}}
	if v := verdicts(res, 0.10); v[0] != holds {
		t.Errorf("verdicts after 7 more rounds near 1 = %v, want shortlived to hold", v)
	}
	var b bytes.Buffer
	res.asked = 5
	render(&b, res, 0.10)
	if !strings.Contains(b.String(), "12 interleaved rounds (5 asked, 7 more while a verdict was undecided)") {
		t.Errorf("render does not say rounds were added:\n%s", b.String())
	}
}
