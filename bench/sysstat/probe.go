package sysstat

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Probe is the time a fixed amount of work took on one CPU: it tells a slow
// phase of the machine (a throttled or shared virtual CPU) from a slow server.
type Probe struct {
	// CPU is the CPU the probe ran on.
	CPU int `json:"cpu"`
	// LoopNanos is the time of ProbeLoopIters iterations of a CPU-bound loop.
	LoopNanos int64 `json:"loop_ns"`
	// SyscallNanos is the time of ProbeSyscalls getppid system calls.
	SyscallNanos int64 `json:"syscall_ns"`
}

// ProbeLoopIters and ProbeSyscalls size the probe: about a millisecond and
// a quarter of one on an idle CPU of the reference machine.
const (
	ProbeLoopIters = 1 << 20
	ProbeSyscalls  = 2000
	probeRepeats   = 3
)

var probeSink uint64

// RunProbe pins a fresh thread to cpu and times the fixed work there, keeping
// the fastest of a few repeats, so one interrupt does not count as a slow
// phase while a CPU that is slow throughout does.
func RunProbe(cpu int) (Probe, error) {
	type result struct {
		p   Probe
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		restore, err := pinThread(cpu, "noise probe")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer restore()
		p := Probe{CPU: cpu, LoopNanos: 1<<63 - 1, SyscallNanos: 1<<63 - 1}
		for range probeRepeats {
			p.LoopNanos = min(p.LoopNanos, timeIt(spin))
			p.SyscallNanos = min(p.SyscallNanos, timeIt(syscalls))
		}
		ch <- result{p: p}
	}()
	r := <-ch
	return r.p, r.err
}

func timeIt(f func()) int64 {
	t := time.Now()
	f()
	return int64(time.Since(t))
}

// spin is the CPU-bound work: a xorshift generator the compiler cannot fold.
func spin() {
	x := uint64(88172645463325252)
	for range ProbeLoopIters {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	atomic.AddUint64(&probeSink, x)
}

// syscalls is the kernel-entry work: the cheapest system call, repeated.
func syscalls() {
	for range ProbeSyscalls {
		unix.Getppid()
	}
}

// Slower reports how much slower p ran than base, as a fraction (0.25 is
// 25% slower), taking the worse of the loop and the system calls.
func (p Probe) Slower(base Probe) float64 {
	f := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a)/float64(b) - 1
	}
	return max(f(p.LoopNanos, base.LoopNanos), f(p.SyscallNanos, base.SyscallNanos))
}

// pinThread pins the calling goroutine's OS thread, which the caller has
// locked, to cpu, and returns what restores the thread's own mask. Restore
// it before unlocking rather than retire the thread: a child started from
// it with Pdeathsig would be killed when the thread ends.
func pinThread(cpu int, what string) (restore func(), err error) {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("reading the %s's cpu mask: %w", what, err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("pinning the %s to cpu %d: %w", what, cpu, err)
	}
	return func() { unix.SchedSetaffinity(0, &old) }, nil //nolint:errcheck // the old mask was valid a moment ago
}
