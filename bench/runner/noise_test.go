package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/bench/sysstat"
)

// spinOn starts `sh -c 'while :; do :; done'` pinned to cpu and returns a
// function that kills it.
func spinOn(t *testing.T, cpu int) func() {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(cmd.Process.Pid, &set); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	return func() { cmd.Process.Kill(); cmd.Wait() } //nolint:errcheck
}

// noiseLine reads the single result line and the whole file of a run.
func noiseLine(t *testing.T, dir, name string) (others, slow float64, file string) {
	t.Helper()
	got, err := results.Read(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	res := got[name]
	if res == nil {
		t.Fatalf("bench.txt has no line for %s", name)
	}
	var ok1, ok2 bool
	others, ok1 = res.Value("others-cpu-pct")
	slow, ok2 = res.Value("probe-slow-pct")
	if !ok1 || !ok2 {
		t.Fatalf("%s: no others-cpu-pct or probe-slow-pct metric", name)
	}
	// The verdict takes the worse of the probes and the window's clocks.
	for _, u := range []string{"server-clock-slow-pct", "load-clock-slow-pct"} {
		v, ok := res.Value(u)
		if !ok {
			t.Fatalf("%s: no %s metric", name, u)
		}
		slow = max(slow, v)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return others, slow, string(b)
}

// TestPlantedBusyLoopIsDisturbed pins a busy loop to the server's CPU for
// the whole run: the cell's others' CPU share is high, it is retaken, then
// kept and marked disturbed, and the file's summary says so.
func TestPlantedBusyLoopIsDisturbed(t *testing.T) {
	stop := spinOn(t, 1) // quick pins the server to cpu 1
	defer stop()
	dir := t.TempDir()
	r := &Runner{Binary: binary, Dir: dir, Settings: quick, Count: 1, Noise: NoisePolicy{Retakes: 1}}
	c := testCell(t, "fasthttp", "keepalive", 4)
	if err := r.Run(context.Background(), []Cell{c}); err != nil {
		t.Fatal(err)
	}
	d := r.Disturbed()
	if len(d) != 1 || d[0].Cell != c.Name() || d[0].Noise.Retakes != 1 {
		t.Fatalf("disturbed = %+v, want the one cell, kept after 1 retake", d)
	}
	others, slow, file := noiseLine(t, dir, c.Name())
	t.Logf("planted loop: others' CPU %.1f%%, probe %+.1f%%", others, slow)
	// The loop is always runnable: it takes about half of cpu 1 from the
	// server, and whatever else runs on the machine adds to it.
	if others < 40 {
		t.Errorf("others-cpu-pct = %.1f with a busy loop on the server's cpu, want ≥ 40", others)
	}
	if !strings.Contains(file, "\ndisturbed-cells: 1 of 1 cell runs disturbed") {
		t.Errorf("bench.txt has no disturbed-cells: 1 of 1 summary:\n%s", file)
	}
	if !strings.Contains(file, "noise-probe-baseline: cpu0 loop ") || !strings.Contains(file, "noise-max-others-cpu-pct: 10") {
		t.Errorf("bench.txt lacks the noise file keys:\n%s", file)
	}
}

// TestQuietRunIsNotDisturbed runs the same cell without the loop. The
// server keeps its CPU busy the whole window, so a detector that counted
// the cell's own processes as "others" would read near 100%: a run without
// the loop must read far below the planted run's ≥ 40%, and its verdict must
// follow from its own figures and the policy. Other test packages may share
// the CPUs (make test runs two at a time), so it is skipped when the machine
// was busy in the second before or after the run.
func TestQuietRunIsNotDisturbed(t *testing.T) {
	skipIfBusy(t, "before")
	dir := t.TempDir()
	policy := NoisePolicy{Retakes: 2}
	r := &Runner{Binary: binary, Dir: dir, Settings: quick, Count: 1, Noise: policy}
	c := testCell(t, "fasthttp", "keepalive", 4)
	if err := r.Run(context.Background(), []Cell{c}); err != nil {
		t.Fatal(err)
	}
	skipIfBusy(t, "after")
	others, slow, file := noiseLine(t, dir, c.Name())
	t.Logf("no loop: others' CPU %.1f%%, probe or clock %+.1f%%", others, slow)
	if others >= 40 {
		t.Errorf("others' CPU %.1f%% on a machine quiet before and after the run: the cell's own processes counted as others?", others)
	}
	d := r.Disturbed()
	over := others > policy.maxOthers() || slow > policy.maxProbeSlow()
	if over != (len(d) == 1) {
		t.Errorf("verdict %+v does not follow from others' CPU %.1f%% (limit %.0f) and probe %+.1f%% (limit %.0f)", d, others, policy.maxOthers(), slow, policy.maxProbeSlow())
	}
	want := "\ndisturbed-cells: 0 of 1 cell runs"
	if over {
		want = "\ndisturbed-cells: 1 of 1 cell runs disturbed"
	}
	if !strings.Contains(file, want) {
		t.Errorf("bench.txt has no %q summary:\n%s", want[1:], file)
	}
}

// skipIfBusy skips the test when either CPU was more than 5% busy over the
// last second: other work (make test runs two packages at once) would make
// the run's outside load real.
func skipIfBusy(t *testing.T, when string) {
	t.Helper()
	before, err := sysstat.ReadCPUs()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	after, err := sysstat.ReadCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, cpu := range []int{0, 1} {
		d := after[cpu].Sub(before[cpu])
		if busy := 100 * float64(d.Busy) / float64(d.Busy+d.Idle+1); busy > 5 {
			t.Skipf("cpu %d was %.0f%% busy %s the run: the machine is too busy for a quiet run to be quiet", cpu, busy, when)
		}
	}
}
