package runner

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/bench/sysstat"
)

// NoisePolicy says when a cell's window counts as disturbed and how often
// a disturbed cell is retaken. The zero value measures with the default
// thresholds and retakes nothing.
type NoisePolicy struct {
	// Off skips the probes and counters altogether.
	Off bool
	// Retakes is how many times a disturbed cell runs again before it is
	// kept as disturbed.
	Retakes int
	// MaxProbeSlow is how much slower than the run's baseline the probe may
	// run, in percent, before the window counts as disturbed (≤ 0: 15).
	MaxProbeSlow float64
	// MaxOthers is the share of a CPU group's time (the server's CPUs, the
	// load's) other processes may use in the window, in percent (≤ 0: 10).
	MaxOthers float64
}

// DefaultNoise is what `poolbench run` uses: two retakes per cell.
var DefaultNoise = NoisePolicy{Retakes: 2, MaxProbeSlow: 15, MaxOthers: 10}

func (p NoisePolicy) maxProbeSlow() float64 {
	if p.MaxProbeSlow <= 0 {
		return 15
	}
	return p.MaxProbeSlow
}

func (p NoisePolicy) maxOthers() float64 {
	if p.MaxOthers <= 0 {
		return 10
	}
	return p.MaxOthers
}

// Noise is what else ran during one cell's window: how slow the fixed-work
// probe ran on the cell's CPUs, and the CPU time others used there.
type Noise struct {
	// ProbeSlowPct is how much slower than the run's baseline the probe ran
	// right before or after the window (the worse of the two), in percent.
	ProbeSlowPct float64 `json:"probe_slow_pct"`
	// OthersPct is the CPU time processes other than the server and the
	// load used on the cell's CPUs (user and system time; interrupt time
	// left out), as a percentage of those CPUs' time;
	// the worse of the server's and the load's CPU groups when pinned.
	OthersPct float64 `json:"others_cpu_pct"`
	// StealPct is the hypervisor's steal time on the cell's CPUs, in percent.
	StealPct float64 `json:"steal_pct"`
	// ServerInvol and LoadInvol are involuntary context switches.
	ServerInvol int64 `json:"server_invol_csw"`
	LoadInvol   int64 `json:"load_invol_csw"`
	// ServerClockSlowPct and LoadClockSlowPct are how much slower than the
	// run's baseline the server's and the load's CPUs ran during the window,
	// in percent, by a sysstat.Clock ticking on them.
	ServerClockSlowPct float64 `json:"server_clock_slow_pct"`
	LoadClockSlowPct   float64 `json:"load_clock_slow_pct"`
	// GCCycles are the server's GC cycles in the measured window.
	GCCycles int64 `json:"gc_cycles"`
	// Retakes is how many times the cell ran again because it was disturbed.
	Retakes int `json:"retakes"`
	// Disturbed is set when a threshold of the policy was crossed.
	Disturbed bool `json:"disturbed"`
}

// Metrics are the noise figures as benchmark-line metrics.
func (n *Noise) Metrics() []results.Metric {
	return []results.Metric{
		{Value: round1(n.ProbeSlowPct), Unit: "probe-slow-pct"},
		{Value: round1(n.OthersPct), Unit: "others-cpu-pct"},
		{Value: round1(n.StealPct), Unit: "steal-pct"},
		{Value: round1(n.ServerClockSlowPct), Unit: "server-clock-slow-pct"},
		{Value: round1(n.LoadClockSlowPct), Unit: "load-clock-slow-pct"},
		{Value: float64(n.ServerInvol), Unit: "server-invol-csw"},
		{Value: float64(n.LoadInvol), Unit: "load-invol-csw"},
		{Value: float64(n.GCCycles), Unit: "gc-cycles"},
	}
}

func round1(v float64) float64 { return float64(int64(v*10+0.5*sign(v))) / 10 }

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// Disturbance is a cell run that stayed disturbed after its retakes.
type Disturbance struct {
	Cell  string
	Run   int
	Noise Noise
}

// noiseState is a Runner's noise bookkeeping across cells.
type noiseState struct {
	baseline  map[int]sysstat.Probe
	clockBase map[int]int64
	disturbed []Disturbance
	runs      int
}

// noiseWindow is what was read right before a cell's load started.
type noiseWindow struct {
	groups [][]int // CPU groups: the server's, the load's (one group if they overlap or are unpinned)
	slow   float64
	cpus   map[int]sysstat.CPU
	srv    sysstat.Proc
	start  time.Time
	clocks [][]*sysstat.Clock // per group, per CPU
	span   time.Duration      // the clocks' span read at the end (0: all of it)
}

// stopClocks stops the window's clocks if endNoise did not (a failed load).
func (w *noiseWindow) stopClocks() {
	if w == nil {
		return
	}
	for _, cs := range w.clocks {
		for _, k := range cs {
			k.Stop(0)
		}
	}
}

// cpuGroups are the CPU groups to account separately.
func (r *Runner) cpuGroups() ([][]int, error) {
	s, l := r.Settings.ServerCPUs, r.Settings.LoadCPUs
	if s != "" && l != "" {
		sc, err1 := ParseCPUList(s)
		lc, err2 := ParseCPUList(l)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("cpu lists %q, %q: %v %v", s, l, err1, err2)
		}
		overlap := false
		for _, a := range sc {
			for _, b := range lc {
				overlap = overlap || a == b
			}
		}
		if !overlap {
			return [][]int{sc, lc}, nil
		}
		return [][]int{union(sc, lc)}, nil
	}
	all, err := sysstat.ReadCPUs()
	if err != nil {
		return nil, err
	}
	var cpus []int
	for c := range all {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	return [][]int{cpus}, nil
}

func union(a, b []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range append(append([]int{}, a...), b...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// probeSlow probes every CPU of groups and returns the worst slowdown
// against the baseline, in percent; the first call sets the baseline (the
// fastest of a few probes per CPU).
func (r *Runner) probeSlow(groups [][]int) (float64, error) {
	first := r.noise.baseline == nil
	if first {
		r.noise.baseline = map[int]sysstat.Probe{}
	}
	worst := 0.0
	for _, g := range groups {
		for _, c := range g {
			p, err := sysstat.RunProbe(c)
			if err != nil {
				return 0, err
			}
			if first {
				for range 4 {
					q, err := sysstat.RunProbe(c)
					if err != nil {
						return 0, err
					}
					p.LoopNanos, p.SyscallNanos = min(p.LoopNanos, q.LoopNanos), min(p.SyscallNanos, q.SyscallNanos)
				}
				r.noise.baseline[c] = p
			}
			worst = max(worst, 100*p.Slower(r.noise.baseline[c]))
		}
	}
	return worst, nil
}

// beginNoise probes the cell's CPUs and reads the counters, right before
// the load starts; nil when the policy is off.
func (r *Runner) beginNoise(serverPID int, closed bool) (*noiseWindow, error) {
	if r.Noise.Off {
		return nil, nil
	}
	groups, err := r.cpuGroups()
	if err != nil {
		return nil, err
	}
	w := &noiseWindow{groups: groups}
	if closed {
		w.span = r.Settings.Duration // the window: the load's last Duration, after its warm-up
	}
	if w.slow, err = r.probeSlow(groups); err != nil {
		return nil, err
	}
	if w.srv, err = sysstat.ReadProc(strconv.Itoa(serverPID)); err != nil {
		return nil, err
	}
	if w.cpus, err = sysstat.ReadCPUs(); err != nil {
		return nil, err
	}
	if r.noise.clockBase == nil {
		r.noise.clockBase = map[int]int64{}
	}
	for _, g := range groups {
		var cs []*sysstat.Clock
		for _, c := range g {
			if _, ok := r.noise.clockBase[c]; !ok {
				b, err := sysstat.ClockBaseline(c)
				if err != nil {
					return nil, err
				}
				r.noise.clockBase[c] = b
			}
			k, err := sysstat.StartClock(c)
			if err != nil {
				return nil, err
			}
			cs = append(cs, k)
		}
		w.clocks = append(w.clocks, cs)
	}
	w.start = time.Now()
	return w, nil
}

// endNoise reads the counters again once the load has exited; finishNoise
// then probes the CPUs again and judges the window.
func (r *Runner) endNoise(w *noiseWindow, serverPID int, rep *LoadReport) (*Noise, error) {
	if w == nil {
		return nil, nil
	}
	n := &Noise{}
	for i, cs := range w.clocks {
		slow := 0.0
		for _, k := range cs {
			rd := k.Stop(w.span)
			if rd.Buckets > 0 {
				slow += 100 * (rd.TickNanos/float64(r.noise.clockBase[rd.CPU]) - 1) / float64(len(cs))
			}
		}
		if i == 0 {
			n.ServerClockSlowPct = slow
		} else {
			n.LoadClockSlowPct = slow
		}
	}
	if len(w.clocks) == 1 {
		n.LoadClockSlowPct = n.ServerClockSlowPct
	}
	cpus, err := sysstat.ReadCPUs()
	if err != nil {
		return nil, err
	}
	wall := time.Since(w.start)
	srv, err := sysstat.ReadProc(strconv.Itoa(serverPID))
	if err != nil {
		return nil, err
	}
	srvD := srv.Sub(w.srv)
	n.ServerInvol = srvD.Involuntary
	var loadCPU int64
	if ru := rep.loadUsage; ru != nil {
		loadCPU = ru.Utime.Nano() + ru.Stime.Nano()
		n.LoadInvol = ru.Nivcsw
	}
	if rep.Before != nil && rep.After != nil {
		n.GCCycles = int64(rep.After.GCCycles - rep.Before.GCCycles)
	}
	// Own CPU time per group: the server's on the first group, the load's
	// on the second; both on the only group when there is one.
	own := []int64{srvD.UserNanos + srvD.SysNanos + loadCPU}
	if len(w.groups) == 2 {
		own = []int64{srvD.UserNanos + srvD.SysNanos, loadCPU}
	}
	var steal, total int64
	for i, g := range w.groups {
		var busy int64
		for _, c := range g {
			d := cpus[c].Sub(w.cpus[c])
			// Interrupt work (loopback TCP's softirqs) is the cell's own
			// traffic more than anyone else's, and no process is charged it.
			busy += d.Busy - d.IRQ
			steal += d.Steal
		}
		capacity := int64(wall) * int64(len(g))
		total += capacity
		if capacity > 0 {
			n.OthersPct = max(n.OthersPct, 100*float64(max(busy-own[i], 0))/float64(capacity))
		}
	}
	if total > 0 {
		n.StealPct = 100 * float64(steal) / float64(total)
	}
	n.ProbeSlowPct = w.slow
	return n, nil
}

// finishNoise probes the CPUs again, after the cell's server has stopped
// (a server still closing a thousand connections would read as a slow
// machine), and judges the window against the policy.
func (r *Runner) finishNoise(w *noiseWindow, n *Noise) error {
	after, err := r.probeSlow(w.groups)
	if err != nil {
		return err
	}
	n.ProbeSlowPct = max(n.ProbeSlowPct, after)
	slow := n.ProbeSlowPct
	if w.span > 0 {
		// Clocks judge closed-loop windows only: there the CPUs are busy
		// throughout. An open loop leaves them idle between requests, and a
		// tick that wakes an idle CPU runs slow (it was measured +33%).
		slow = n.SlowPct()
	}
	n.Disturbed = slow > r.Noise.maxProbeSlow() || n.OthersPct > r.Noise.maxOthers()
	return nil
}

// SlowPct is how much slower than the run's baseline the cell's CPUs ran at
// worst: the probes around the window or the clocks during it, in percent.
func (n *Noise) SlowPct() float64 {
	return max(n.ProbeSlowPct, n.ServerClockSlowPct, n.LoadClockSlowPct)
}

// loadRusage is the exited load process's resource usage, nil if unknown.
func loadRusage(p *proc) *syscall.Rusage {
	if p.cmd.ProcessState == nil {
		return nil
	}
	ru, _ := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return ru
}

// runSteady runs a cell, retaking it up to the policy's budget while its
// window is disturbed; a cell still disturbed is kept and recorded.
func (r *Runner) runSteady(ctx context.Context, c Cell, run int) (*CellResult, error) {
	r.noise.runs++
	for take := 0; ; take++ {
		res, err := r.runCellBounded(ctx, c)
		if err != nil || res.Noise == nil || !res.Noise.Disturbed {
			if res != nil && res.Noise != nil {
				res.Noise.Retakes = take
			}
			return res, err
		}
		res.Noise.Retakes = take
		if take >= r.Noise.Retakes {
			r.noise.disturbed = append(r.noise.disturbed, Disturbance{Cell: c.Name(), Run: run, Noise: *res.Noise})
			if r.Warn != nil {
				fmt.Fprintf(r.Warn, "poolbench: cell %s run %d stayed disturbed after %d retakes: CPUs %+.0f%% slower (probe or clock), others' CPU %.0f%%\n",
					c.Name(), run, take, res.Noise.SlowPct(), res.Noise.OthersPct)
			}
			return res, nil
		}
		if r.results != nil {
			r.results.Abort() // drop the disturbed take's staged side files
		}
	}
}

// Disturbed lists the cell runs that stayed disturbed after their retakes.
func (r *Runner) Disturbed() []Disturbance { return r.noise.disturbed }

// DisturbedSummary is one line: how many cell runs stayed disturbed and by
// how much at worst ("" when none did).
func (r *Runner) DisturbedSummary() string {
	d := r.noise.disturbed
	if len(d) == 0 {
		return ""
	}
	var slow, others float64
	for _, x := range d {
		slow, others = max(slow, x.Noise.SlowPct()), max(others, x.Noise.OthersPct)
	}
	return fmt.Sprintf("%d of %d cell runs disturbed (worst: CPUs %+.0f%% slower than the run's baseline, others' CPU %.0f%% of the cell's CPUs)",
		len(d), r.noise.runs, slow, others)
}

// writeNoiseKeys writes the file-level keys of the noise policy and the
// probe's baseline per CPU.
func (r *Runner) writeNoiseKeys(w io.Writer) error {
	if r.Noise.Off || r.noise.baseline == nil {
		return nil
	}
	var cpus []int
	for c := range r.noise.baseline {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	var parts []string
	for _, c := range cpus {
		p := r.noise.baseline[c]
		parts = append(parts, fmt.Sprintf("cpu%d loop %dns syscalls %dns", c, p.LoopNanos, p.SyscallNanos))
	}
	var clocks []string
	for _, c := range cpus {
		if b, ok := r.noise.clockBase[c]; ok {
			clocks = append(clocks, fmt.Sprintf("cpu%d %dns per %d iterations", c, b, sysstat.ClockIters))
		}
	}
	if len(clocks) > 0 {
		if _, err := fmt.Fprintf(w, "noise-clock-baseline: %s\n", strings.Join(clocks, ", ")); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "noise-probe-baseline: %s\nnoise-max-probe-slow-pct: %g\nnoise-max-others-cpu-pct: %g\nnoise-retakes: %d\n",
		strings.Join(parts, ", "), r.Noise.maxProbeSlow(), r.Noise.maxOthers(), r.Noise.Retakes)
	return err
}

// writeNoiseSummary writes the `disturbed-cells:` key after the last
// result line, so it attaches to no result and splits no configuration.
func (r *Runner) writeNoiseSummary(w io.Writer) error {
	if r.Noise.Off || r.noise.runs == 0 {
		return nil
	}
	s := r.DisturbedSummary()
	if s == "" {
		s = fmt.Sprintf("0 of %d cell runs", r.noise.runs)
	}
	if _, err := fmt.Fprintf(w, "\ndisturbed-cells: %s\n", s); err != nil {
		return err
	}
	if f, ok := w.(*resultFile); ok {
		return f.Commit()
	}
	return nil
}
