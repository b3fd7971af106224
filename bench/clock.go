package bench

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench/sysstat"
)

// cellClocks reads how fast the CPUs this process may run on ran during a
// cell (sysstat.Clock): the in-process layer's counterpart of the process
// runner's clocks, reported as clock-slow-pct so the report can adjust the
// cell's samples for the CPUs' speed as it does the process layer's.
type cellClocks struct {
	clocks []*sysstat.Clock
}

var (
	clockOnce  sync.Once
	clockCPUs  []int
	clockBases map[int]int64
)

// startClocks starts a clock on every CPU of the process's mask; nil if the
// mask or a clock cannot be had (the cell then reports no clock).
func startClocks() *cellClocks {
	clockOnce.Do(func() {
		var set unix.CPUSet
		if unix.SchedGetaffinity(0, &set) != nil {
			return
		}
		bases := map[int]int64{}
		for c := 0; c < 1024; c++ {
			if !set.IsSet(c) {
				continue
			}
			b, err := sysstat.ClockBaseline(c)
			if err != nil {
				return
			}
			bases[c] = b
			clockCPUs = append(clockCPUs, c)
		}
		clockBases = bases
	})
	if len(clockCPUs) == 0 {
		return nil
	}
	cc := &cellClocks{}
	for _, c := range clockCPUs {
		k, err := sysstat.StartClock(c)
		if err != nil {
			cc.stop()
			return nil
		}
		cc.clocks = append(cc.clocks, k)
	}
	return cc
}

// stop stops the clocks and returns the mean slowdown of the CPUs against
// the process's baseline, in percent, and whether there was a reading.
func (cc *cellClocks) stop() (float64, bool) {
	if cc == nil {
		return 0, false
	}
	sum, n := 0.0, 0
	for _, k := range cc.clocks {
		r := k.Stop(0)
		if r.Buckets > 0 {
			sum += 100 * (r.TickNanos/float64(clockBases[r.CPU]) - 1)
			n++
		}
	}
	if n == 0 || n < len(cc.clocks) {
		return 0, false
	}
	return sum / float64(n), true
}
