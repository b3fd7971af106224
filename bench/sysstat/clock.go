package sysstat

import (
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ClockIters sizes one tick of a Clock: a few microseconds of the probe's
// CPU-bound loop, short enough that the scheduler rarely cuts one in two.
const ClockIters = 1 << 12

// ClockPeriod is how often a Clock ticks, and ClockBucket the span whose
// fastest tick stands for the CPU's speed then. At one tick of a few
// microseconds every 5 ms a Clock takes about 0.1% of its CPU.
const (
	ClockPeriod = 5 * time.Millisecond
	ClockBucket = 50 * time.Millisecond
)

// Clock samples how fast a CPU runs while a cell uses it. The virtual CPUs
// of a cloud machine change speed for a second or so at a time (the host's
// clock steps by a few percent); a window's throughput follows, and nothing
// before or after the window shows it. A Clock times ClockIters iterations
// of a fixed loop on its CPU every ClockPeriod; the fastest tick of every
// ClockBucket is that moment's speed (a tick that was preempted is never
// the fastest), and the mean over the buckets is the window's.
type Clock struct {
	cpu      int
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu    sync.Mutex
	ticks []clockTick
	err   error
}

type clockTick struct {
	at    time.Time
	nanos int64
}

// StartClock starts a Clock on a thread pinned to cpu.
func StartClock(cpu int) (*Clock, error) {
	c := &Clock{cpu: cpu, stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(c.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		restore, err := pinThread(cpu, "clock")
		if err != nil {
			ready <- err
			return
		}
		defer restore()
		ready <- nil
		t := time.NewTicker(ClockPeriod)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			start := time.Now()
			clockSpin()
			n := int64(time.Since(start))
			c.mu.Lock()
			c.ticks = append(c.ticks, clockTick{at: start, nanos: n})
			c.mu.Unlock()
		}
	}()
	if err := <-ready; err != nil {
		<-c.done
		return nil, err
	}
	return c, nil
}

var clockSink uint64

func clockSpin() {
	x := uint64(88172645463325252)
	for range ClockIters {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	atomic.AddUint64(&clockSink, x) // clocks on several CPUs spin at once
}

// ClockReading is what a Clock saw over a span.
type ClockReading struct {
	// CPU is the CPU the clock ran on.
	CPU int
	// Buckets is how many ClockBucket spans had a tick and were kept;
	// Dropped how many were left out as contended (ClockContended).
	Buckets, Dropped int
	// TickNanos is the mean over the buckets of each bucket's fastest tick.
	TickNanos float64
	// Spread is the slowest bucket's fastest tick over the fastest
	// bucket's, less one: how much the speed moved within the span.
	Spread float64
}

// Stop stops the clock and returns its reading over the last span of its
// life (the measured window after a warm-up); span ≤ 0 takes all of it.
// Stopping a stopped clock reads it again.
func (c *Clock) Stop(span time.Duration) ClockReading {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	r := read(c.ticks, span)
	r.CPU = c.cpu
	return r
}

// read is the reading of ticks over the last span (all of them if span ≤ 0).
func read(ticks []clockTick, span time.Duration) ClockReading {
	var r ClockReading
	if len(ticks) == 0 {
		return r
	}
	from := time.Time{}
	if span > 0 {
		from = ticks[len(ticks)-1].at.Add(-span)
	}
	mins := map[int64]int64{}
	for _, t := range ticks {
		if t.at.Before(from) {
			continue
		}
		b := t.at.UnixNano() / int64(ClockBucket)
		if m, ok := mins[b]; !ok || t.nanos < m {
			mins[b] = t.nanos
		}
	}
	var all []float64
	for _, m := range mins {
		all = append(all, float64(m))
	}
	sort.Float64s(all)
	// A bucket whose fastest tick is half again the median's had no tick
	// the scheduler left alone (a contended CPU): it says nothing of the
	// CPU's speed, which moves by steps of a few percent.
	med := all[len(all)/2]
	kept, sum := all[:0], 0.0
	for _, m := range all {
		if m <= ClockContended*med {
			kept = append(kept, m)
			sum += m
		}
	}
	r.Buckets, r.Dropped = len(kept), len(all)-len(kept)
	r.TickNanos = sum / float64(r.Buckets)
	r.Spread = kept[len(kept)-1]/kept[0] - 1
	return r
}

// ClockContended is how much slower than the median bucket's a bucket's
// fastest tick may be before the bucket is dropped as contended.
const ClockContended = 1.5

// ClockBaseline is the fastest tick of a few back-to-back ticks on cpu: the
// speed a run's clock readings are compared with.
func ClockBaseline(cpu int) (int64, error) {
	type result struct {
		n   int64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		restore, err := pinThread(cpu, "clock")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer restore()
		best := int64(1<<63 - 1)
		for range 200 {
			start := time.Now()
			clockSpin()
			best = min(best, int64(time.Since(start)))
		}
		ch <- result{n: best}
	}()
	r := <-ch
	return r.n, r.err
}
