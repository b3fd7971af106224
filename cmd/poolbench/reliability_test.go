package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	relOnce sync.Once
	relBin  string
	relErr  error
)

// poolbenchBin builds this command once for the reliability tests.
func poolbenchBin(t *testing.T) string {
	t.Helper()
	relOnce.Do(func() {
		dir, err := os.MkdirTemp("", "poolbench-reliability")
		if err != nil {
			relErr = err
			return
		}
		relBin = filepath.Join(dir, "poolbench")
		if out, err := exec.Command("go", "build", "-o", relBin, ".").CombinedOutput(); err != nil {
			relErr = errors.New(string(out))
		}
	})
	if relErr != nil {
		t.Fatalf("building poolbench: %v", relErr)
	}
	return relBin
}

// result is one finished poolbench process.
type result struct {
	code           int
	stdout, stderr string
}

// pb runs poolbench in dir with its CPU locks in lockDir, and waits.
func pb(t *testing.T, dir, lockDir string, args ...string) result {
	t.Helper()
	cmd := pbCmd(t, dir, lockDir, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return result{exitCode(t, cmd.Run()), out.String(), errb.String()}
}

func pbCmd(t *testing.T, dir, lockDir string, args ...string) *exec.Cmd {
	cmd := exec.Command(poolbenchBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "POOLBENCH_LOCK_DIR="+lockDir)
	return cmd
}

// entries lists everything under dir.
func entries(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

// TestBadInputExitsTwoWritingNothing covers the rows of issue 11 about
// input: every bad flag or value exits 2 with one line naming it, before
// anything runs or is written (the working folder and the CPU lock folder
// stay empty). Addresses off loopback are refused before any dial.
func TestBadInputExitsTwoWritingNothing(t *testing.T) {
	t.Parallel()
	const lo = "127.0.0.1:9" // the discard port: never dialled, the flags fail first
	tests := []struct {
		row  string
		args []string
		msg  string
	}{
		{"5", []string{"serve", "-gomaxprocs", "1000000000"}, `-gomaxprocs "1000000000": want GOMAXPROCS`},
		{"5", []string{"run", "-server-gomaxprocs", "1000000000"}, `-server-gomaxprocs "1000000000"`},
		{"5", []string{"load", "-addr", lo, "-gomaxprocs", "-3"}, `-gomaxprocs "-3"`},
		{"8", []string{"load", "-addr", lo, "-workload", "bursty", "-rate", "1000000000"}, "-rate 1000000000: want requests per second"},
		{"8", []string{"run", "-rate", "1000000000"}, "-rate 1000000000: want requests per second ≥ 1 and ≤"},
		{"8", []string{"run", "-rate", "0"}, "-rate 0: want requests per second ≥ 1"},
		{"8", []string{"run", "-on", "0s"}, "-on 0s: want a burst length > 0"},
		{"8", []string{"run", "-bursts", "0"}, "-bursts 0: want a count ≥ 1"},
		{"9", []string{"run", "-count", "0"}, `-count "0": want runs of each cell from 1`},
		{"9", []string{"run", "-count", "-1"}, `-count "-1"`},
		{"10", []string{"serve", "-model", "nginx"}, `unknown server model "nginx"`},
		{"10", []string{"serve", "-variant", "pool=maybe"}, "a switch is on or off"},
		{"10", []string{"load", "-addr", lo, "-route", "nope"}, `unknown route "nope"`},
		{"10", []string{"load", "-addr", lo, "-workload", "nope"}, `unknown workload "nope"`},
		{"10", []string{"load", "-addr", lo, "-workload", "client", "-client", "nope"}, `"nope"`},
		{"10", []string{"load"}, "-addr is required"},
		{"10", []string{"run", "-models", "nginx"}, `unknown server model "nginx"`},
		{"10", []string{"run", "-variants", "pool=maybe"}, "a switch is on or off"},
		{"10", []string{"run", "-variants", "\n=x"}, `"\n=x"`}, // a newline echoed from the value stays escaped: one line
		{"10", []string{"run", "-loads", "nope"}, `unknown workload "nope"`},
		{"10", []string{"run", "-clients", "nope"}, `"nope"`},
		{"10", []string{"run", "-routes", "nope"}, `"nope"`},
		{"10", []string{"run", "extra"}, `unexpected argument "extra"`},
		{"10", []string{"nope"}, `unknown command "nope"`},
		{"15", []string{"serve", "-addr", "0.0.0.0:0"}, `-addr "0.0.0.0:0": want a loopback address`},
		{"15", []string{"serve", "-addr", ":0"}, "--allow-remote"},
		{"15", []string{"serve", "-addr", "[::]:0"}, "--allow-remote"},
		{"15", []string{"serve", "-control", "0.0.0.0:0", "-allow-remote"}, "never leaves loopback"},
		{"16", []string{"load", "-addr", lo, "-control", "192.0.2.1:80"}, `-control "192.0.2.1:80": want a loopback address`},
		{"16", []string{"load", "-addr", "192.0.2.1:80"}, "--allow-remote"},
		{"16", []string{"load", "-addr", "http://192.0.2.1:80"}, "--allow-remote"},
		{"16", []string{"load", "-addr", "example.com:80"}, "--allow-remote"},
		{"17", []string{"run", "-duration", "0"}, `-duration "0s": want a duration > 0`},
		{"17", []string{"run", "-server-cpus", "999"}, `-server-cpus "999": want cpus that exist here`},
		{"17", []string{"run", "-keepalive-conns", "100000000"}, "is not a positive integer up to"},
		{"17", []string{"run", "-keepalive-conns", "0"}, `-keepalive-conns "0"`},
		{"17", []string{"load", "-addr", lo, "-conns", "0"}, `-conns "0"`},
		{"17", []string{"load", "-addr", lo, "-duration", "0"}, `-duration "0s"`},
		{"19", []string{"serve", "-memprofilerate", "-5"}, `-memprofilerate "-5"`},
		{"19", []string{"run", "-warmup", "-1s"}, `-warmup "-1s": want a duration ≥ 0`},
		{"19", []string{"load", "-addr", lo, "-warmup", "-1s"}, `-warmup "-1s"`},
		{"19", []string{"load", "-addr", lo, "-workload", "idle", "-hold", "-1s"}, "-hold -1s: want a duration > 0"},
		{"19", []string{"run", "-load-cpus", "0-1000"}, `-load-cpus "0-1000": want cpus that exist here`},
		{"19", []string{"run", "-server-cpus", "0", "-load-cpus", "0"}, "share cpu 0"},
		{"19", []string{"run", "-keepalive-conns", "1,16,1"}, "comes twice: a value is repeated"},
		{"19", []string{"run", "-models", "fasthttp,fasthttp"}, `"fasthttp" is named twice`},
		{"19", []string{"run", "-gaps", "1s,1s"}, "comes twice: a value is repeated"},
		{"19", []string{"load", "-addr", lo, "-cpus", "0,0"}, "named twice"},
		{"19", []string{"serve", "-idle-timeout", "-1s"}, `-idle-timeout "-1s"`},
		{"19", []string{"serve", "-max-header-bytes", "-1"}, `-max-header-bytes "-1"`},
		{"19", []string{"run", "-max-idle-worker-duration", "-1s"}, `-max-idle-worker-duration "-1s"`},
		{"4", []string{"run", "-resume"}, "-resume needs -out"},
		{"-", []string{"load", "-addr", "127.0.0.1"}, `-addr "127.0.0.1": want host:port`},
		{"-", []string{"load", "-addr", lo, "-profile-dir", "p"}, "give -control too"},
	}
	for _, tt := range tests {
		t.Run("row"+tt.row+"/"+strings.Join(tt.args, "_"), func(t *testing.T) {
			t.Parallel()
			dir, locks := t.TempDir(), filepath.Join(t.TempDir(), "locks")
			r := pb(t, dir, locks, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (bad input); stderr %q", r.code, r.stderr)
			}
			msg := strings.TrimSpace(r.stderr)
			if tt.row != "10" || tt.args[0] != "nope" { // an unknown command also prints the command list
				if strings.Contains(msg, "\n") {
					t.Errorf("stderr is not one line: %q", msg)
				}
			}
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("stderr %q, want it to contain %q", msg, tt.msg)
			}
			if left := entries(dir); len(left) > 0 {
				t.Errorf("bad input wrote %v", left)
			}
			if _, err := os.Stat(locks); !os.IsNotExist(err) {
				t.Errorf("bad input took CPU locks (stat %s: %v)", locks, err)
			}
		})
	}
}

// Every registered command's -h documents the exit codes and exits 2.
func TestHelpDocumentsExitCodes(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands {
		c := cmd.name
		r := pb(t, t.TempDir(), t.TempDir(), c, "-h")
		if r.code != 2 || !strings.Contains(r.stderr, "130  interrupted by SIGINT (143: SIGTERM)") || !strings.Contains(r.stderr, "2    bad usage or input") {
			t.Errorf("%s -h: exit %d, stderr without the exit codes:\n%s", c, r.code, r.stderr)
		}
	}
}

// startServe starts `poolbench serve` and returns its ready line.
func startServe(t *testing.T, dir string) (addr, control string) {
	t.Helper()
	cmd := pbCmd(t, dir, t.TempDir(), "serve", "--json", "-gomaxprocs", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("serve ready line: %v", err)
	}
	var ready struct{ Addr, Control string }
	if err := json.Unmarshal(line, &ready); err != nil {
		t.Fatal(err)
	}
	return ready.Addr, ready.Control
}

// load -addr takes the URL serve prints, and an interrupted load exits
// 130/143 without printing its short window as a result.
func TestLoadURLAndInterrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr, control := startServe(t, dir)
	r := pb(t, dir, t.TempDir(), "load", "-addr", "http://"+addr, "-control", "http://"+control, "-conns", "2", "-duration", "200ms", "-warmup", "50ms")
	if r.code != 0 || !strings.Contains(r.stdout, "keepalive conns=2:") {
		t.Fatalf("load -addr http://%s: exit %d, stdout %q, stderr %q; want a report", addr, r.code, r.stdout, r.stderr)
	}
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		cmd := pbCmd(t, dir, t.TempDir(), "load", "-addr", addr, "-conns", "2", "-duration", "30s", "-warmup", "0s")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		cmd.Process.Signal(sig)
		cmd.Wait()
		if got := cmd.ProcessState.ExitCode(); got != want || out.Len() > 0 {
			t.Errorf("load after %v: exit %d, stdout %q; want %d and no report", sig, got, out.String(), want)
		}
	}
}

// procLines counts the process-layer result lines in a bench.txt.
func procLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\nBenchmarkProc/"))
}

var quickRun = []string{"run", "-models", "fasthttp", "-loads", "keepalive", "-warmup", "100ms", "-noise=false"} // noise: the machine's noise is not these tests' business

// Two runs at once: the second refuses (exit 2), naming the first's pid,
// whether it wants the same CPUs or the same folder, and writes nothing.
func TestTwoRunsAtOnce(t *testing.T) {
	dir, locks := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "run")
	first := pbCmd(t, dir, locks, append(quickRun, "-keepalive-conns", "1", "-duration", "3s", "-count", "1",
		"-server-cpus", "0", "-load-cpus", "0", "-allow-shared-cpus", "-out", out)...)
	var ferr bytes.Buffer
	first.Stderr = &ferr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(first.Process.Pid)
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(out, ".poolbench.lock"))
		if strings.TrimSpace(string(b)) == pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first run never locked %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"same cpus, default folder", append(quickRun, "-server-cpus", "0", "-load-cpus", "0", "-allow-shared-cpus"),
			"cpu 0 is in use by poolbench pid " + pid},
		{"same folder", append(quickRun, "-server-cpus", "1", "-load-cpus", "1", "-allow-shared-cpus", "-out", out),
			"run folder " + out + " is in use by poolbench pid " + pid},
	} {
		r := pb(t, dir, locks, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tt.name, r.code, r.stderr, tt.msg)
		}
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("the first run: %v: %s", err, ferr.String())
	}
	if n := procLines(t, filepath.Join(out, "bench.txt")); n != 1 {
		t.Errorf("the first run wrote %d result lines, want 1", n)
	}
	if got := entries(dir); len(got) != 3 { // run, run/bench.txt, run/run-spec.json
		t.Errorf("folder holds %v, want only the first run's folder, bench.txt and run-spec.json", got)
	}
}

// An interrupted run keeps its finished cells and exits 130; the same
// -out again refuses; -resume finishes it (and refuses other settings).
func TestInterruptThenResume(t *testing.T) {
	dir, locks := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "run")
	args := append(quickRun, "-keepalive-conns", "1,2", "-duration", "1s", "-count", "1", "-out", out)
	cmd := pbCmd(t, dir, locks, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	benchTxt := filepath.Join(out, "bench.txt")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(benchTxt); bytes.Contains(b, []byte("BenchmarkProc/")) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no cell finished")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("interrupted run: exit %d, want 130", code)
	}
	if n := procLines(t, benchTxt); n != 1 {
		t.Fatalf("interrupted run kept %d lines, want the 1 finished cell", n)
	}
	for _, e := range entries(out) {
		if strings.Contains(e, ".tmp") || strings.Contains(e, ".partial") || strings.HasSuffix(e, ".lock") {
			t.Errorf("interrupted run left %s", e)
		}
	}
	if r := pb(t, dir, locks, args...); r.code != 2 || !strings.Contains(r.stderr, "already holds a process run: give -resume") {
		t.Errorf("same -out again: exit %d, stderr %q; want 2, refusing", r.code, r.stderr)
	}
	other := append(append([]string{}, args...), "-resume", "-warmup", "200ms")
	if r := pb(t, dir, locks, other...); r.code != 2 || !strings.Contains(r.stderr, "made with other settings") {
		t.Errorf("-resume with other settings: exit %d, stderr %q; want 2, refusing", r.code, r.stderr)
	}
	if r := pb(t, dir, locks, append(args, "-resume")...); r.code != 0 {
		t.Fatalf("-resume: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := procLines(t, benchTxt); n != 2 {
		t.Errorf("after -resume, %d lines, want 2 (one per cell)", n)
	}
	if b, _ := os.ReadFile(benchTxt); bytes.Count(b, []byte("layer: process")) != 1 || bytes.Count(b, []byte("commit: ")) != 1 {
		t.Errorf("after -resume, the header is not there exactly once:\n%s", b)
	}
	// poolbench bench runs its steps into one folder: -append adds a step's
	// cells after the others', and goes with neither -resume nor no -out.
	step := append(append([]string{}, quickRun...), "-keepalive-conns", "3", "-duration", "300ms", "-count", "1", "-out", out, "-append")
	if r := pb(t, dir, locks, step...); r.code != 0 {
		t.Fatalf("-append: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := procLines(t, benchTxt); n != 3 {
		t.Errorf("after -append, %d lines, want 3 (the run's 2 and the step's 1)", n)
	}
	if r := pb(t, dir, locks, append(step, "-resume")...); r.code != 2 || !strings.Contains(r.stderr, "-append needs -out") {
		t.Errorf("-append -resume: exit %d, stderr %q; want 2", r.code, r.stderr)
	}
}

// Two runs started in the same second get two folders.
func TestRunFolderNamesAreUnique(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	a, err := newRunFolder(parent, "20260101-000000-abcdef0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRunFolder(parent, "20260101-000000-abcdef0")
	if err != nil || a == b {
		t.Fatalf("newRunFolder twice = %q, %q (%v); want two folders", a, b, err)
	}
}
