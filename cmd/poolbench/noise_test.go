package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunFlagsPlantedContention runs one process cell with a busy loop
// pinned to the server's CPU: `poolbench run` must exit 1 saying the cell
// stayed disturbed, and the report must say so too.
func TestRunFlagsPlantedContention(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds poolbench and runs a process cell")
	}
	bin := buildPoolbench(t)
	spin := exec.Command("sh", "-c", "while :; do :; done")
	spin.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }() //nolint:errcheck
	var set unix.CPUSet
	set.Set(1) // the server's default cpu
	if err := unix.SchedSetaffinity(spin.Process.Pid, &set); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	run := exec.Command(bin, "run", "-models", "fasthttp", "-loads", "keepalive", "-keepalive-conns", "4", "-count", "1",
		"-duration", "300ms", "-warmup", "100ms", "-retakes", "0", "-out", dir)
	run.Env = append(os.Environ(), "POOLBENCH_LOCK_DIR="+t.TempDir()) // not the machine's CPU locks
	out, err := run.CombinedOutput()
	if code := exitCode(t, err); code != 1 || !strings.Contains(string(out), "1 of 1 cell runs disturbed") {
		t.Fatalf("poolbench run under contention: exit %d, output:\n%s\nwant exit 1 and 1 of 1 cell runs disturbed", code, out)
	}
	if out, err := exec.Command(bin, "report", dir).CombinedOutput(); err != nil {
		t.Fatalf("poolbench report: %v\n%s", err, out)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "Noise: 1 of 1 process samples stayed disturbed") {
		t.Errorf("report.md does not say the sample was disturbed:\n%s", md)
	}
}

// TestRunRefusesBadNoiseFlags: a negative retake budget is bad usage, exit
// 2, before any run folder is written.
func TestRunRefusesBadNoiseFlags(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds poolbench")
	}
	bin := buildPoolbench(t)
	dir := filepath.Join(t.TempDir(), "run")
	out, err := exec.Command(bin, "run", "-retakes", "-1", "-out", dir).CombinedOutput()
	if code := exitCode(t, err); code != 2 || !strings.Contains(string(out), "-retakes -1") {
		t.Errorf("exit %d, output %q: want 2 naming -retakes -1", code, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run folder written despite bad usage (stat: %v)", err)
	}
}

// TestCalibrateRefusesBadFlags: bad calibration settings exit 2 before any
// gate runs or folder is written.
func TestCalibrateRefusesBadFlags(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds poolbench")
	}
	bin := buildPoolbench(t)
	for _, tt := range []struct{ args, want string }{
		{"-slowdowns 0,3", `-slowdowns "0,3"`},
		{"-aa 0", "-aa 0"},
		{"-count 2", "-count 2"},
		{"-alpha 1", "-alpha 1"},
		{"-benchtime 0s", `-benchtime "0s"`},
	} {
		dir := filepath.Join(t.TempDir(), "cal")
		out, err := exec.Command(bin, append([]string{"calibrate", "-out", dir}, strings.Fields(tt.args)...)...).CombinedOutput()
		if code := exitCode(t, err); code != 2 || !strings.Contains(string(out), tt.want) || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
			t.Errorf("calibrate %s: exit %d, output %q: want exit 2 and one line naming %s", tt.args, code, out, tt.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("calibrate %s wrote %s despite bad usage", tt.args, dir)
		}
	}
}

// TestRunOnlyMissingToolIsUsage: `-load-tool wrk` on a machine without wrk
// has nothing to run: exit 2 naming the flag and the missing tool, before
// any run folder is written (PATH here holds no wrk).
func TestRunOnlyMissingToolIsUsage(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds poolbench")
	}
	bin := buildPoolbench(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "run", "-load-tool", "wrk", "-loads", "keepalive", "-out", dir)
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if code := exitCode(t, err); code != 2 || !strings.Contains(string(out), `-load-tool "wrk": nothing to run`) || !strings.Contains(string(out), "wrk is not installed") {
		t.Errorf("exit %d, output %q: want 2 naming -load-tool and the missing wrk", code, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run folder written despite nothing to run (stat: %v)", err)
	}
}
