package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitCode is cmd's exit status.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestBenchSmallRun runs `poolbench bench` on a tiny in-process matrix
// without the process layer, in a log (not a terminal): it must write the
// run folder and print one progress line per finished cell with its ETA.
func TestBenchSmallRun(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds and runs benchmark binaries")
	}
	t.Parallel()
	bin := buildPoolbench(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "bench", "-count", "2", "-benchtime", "5x", "-conns", "1", "-transports", "inmem",
		"-loads", "keepalive", "-routes", "plaintext", "-proc=false", "-out", dir)
	cmd.Dir = "../.."
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(t, cmd.Run()); code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, stderr.String(), stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"commit: ", "go-version: go", "fasthttp-version: v", "layer: inprocess", "gomaxprocs: ", "kernel: Linux-", "benchtime: 5x", "Unit req/s better=higher"} {
		if !strings.Contains(string(b), "\n"+key) && !strings.HasPrefix(string(b), key) {
			t.Errorf("bench.txt lacks %q", key)
		}
	}
	if n := strings.Count(string(b), "\nBenchmarkServer/"); n != 2*2 {
		t.Errorf("%d BenchmarkServer lines, want 2 models × count 2", n)
	}
	if !strings.Contains(string(b), "\nBenchmarkClient/") {
		t.Error("no BenchmarkClient lines")
	}
	for _, f := range []string{"techniques.txt", "report.md", "report.html", "scenarios.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s: %v", f, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.test")); len(m) > 0 {
		t.Errorf("test binaries left in the run folder: %v", m)
	}
	lines := regexp.MustCompile(`(?m)^\[server (\d)/4, \d+s elapsed, eta \d+s\] BenchmarkServer/`).FindAllString(stderr.String(), -1)
	if len(lines) != 4 {
		t.Errorf("%d progress lines for the server cells, want 4 (one per finished cell):\n%s", len(lines), stderr.String())
	}
	if !strings.Contains(stdout.String(), "== in-process: server models") || !strings.Contains(stdout.String(), "== each technique alone") {
		t.Errorf("the benchstat tables are missing:\n%s", stdout.String())
	}
}

// TestBenchRefusesBadFlags: exit 2 naming the flag, no folder written.
func TestBenchRefusesBadFlags(t *testing.T) {
	if raceEnabled {
		t.Skip("child processes")
	}
	t.Parallel()
	bin := buildPoolbench(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-count", "0"}, "-count 0"},
		{[]string{"-models", "apache"}, `"apache"`},
		{[]string{"-conns", "0"}, `-conns "0": "0" is not a positive integer`},
		{[]string{"-proc-variant-conns", "0"}, "-proc-variant-conns 0"},
		{[]string{"-variants", "pool=maybe"}, `a switch is on or off`},
		{[]string{"-proc-flags", "-keepalive-conns 0"}, "-proc-flags"},
		{[]string{"-only", "nothing"}, `-only "nothing"`},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		b, err := exec.Command(bin, append([]string{"bench", "-out", dir}, tt.args...)...).CombinedOutput()
		if code := exitCode(t, err); code != 2 || !strings.Contains(string(b), tt.want) {
			t.Errorf("bench %v: exit %d, want 2 naming %q\n%s", tt.args, code, tt.want, b)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("bench %v created %s", tt.args, dir)
		}
	}
}

// TestReportRefuses: junk input and the committed reference (without
// -force) exit 2 and write nothing.
func TestReportRefuses(t *testing.T) {
	if raceEnabled {
		t.Skip("child processes")
	}
	t.Parallel()
	bin := buildPoolbench(t)
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "bench.txt"), []byte("commit: x\n\nnot a benchmark\n"), 0o644)
	b, err := exec.Command(bin, "report", junk).CombinedOutput()
	if code := exitCode(t, err); code != 2 || !strings.Contains(string(b), "not poolbench output") {
		t.Errorf("report on junk: exit %d, want 2\n%s", code, b)
	}
	if _, err := os.Stat(filepath.Join(junk, "report.md")); !os.IsNotExist(err) {
		t.Error("report.md written for junk input")
	}
	ref := filepath.Join(t.TempDir(), "results", "reference")
	os.MkdirAll(ref, 0o755)
	src, _ := os.ReadFile("../../bench/report/testdata/run/bench.txt")
	os.WriteFile(filepath.Join(ref, "bench.txt"), src, 0o644)
	b, err = exec.Command(bin, "report", ref).CombinedOutput()
	if code := exitCode(t, err); code != 2 || !strings.Contains(string(b), "-force") {
		t.Errorf("report on results/reference: exit %d, want 2 naming -force\n%s", code, b)
	}
	if _, err := os.Stat(filepath.Join(ref, "report.md")); !os.IsNotExist(err) {
		t.Error("report.md written into results/reference without -force")
	}
	if b, err := exec.Command(bin, "report", "-force", ref).CombinedOutput(); exitCode(t, err) != 0 {
		t.Errorf("report -force on results/reference failed:\n%s", b)
	}
}

// TestPprofPrintsRealAddress: the printed URL is where the web UI is.
func TestPprofPrintsRealAddress(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("child processes")
	}
	t.Parallel()
	bin := buildPoolbench(t)
	run := "../../bench/report/testdata/run"
	cell := "model=fasthttp/client=driver/route=app/load=keepalive/conns=4/gap=na/mem=default/pool=on/conv=on/reuse=on"
	if b, err := exec.Command(bin, "pprof", "-run", run, "-cell", "model=nope").CombinedOutput(); exitCode(t, err) != 2 || !strings.Contains(string(b), cell) {
		t.Errorf("unknown cell: want exit 2 listing the profiled cells\n%s", b)
	}
	cmd := exec.Command(bin, "pprof", "-no-browser", "-run", run, "-cell", cell)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	if url == "" || strings.Contains(line, ":0/") {
		t.Fatalf("no real loopback URL in %q", line)
	}
	var resp *http.Response
	for i := 0; i < 300; i++ { // pprof starts its server after reading the profile
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd.Wait()); code != 130 {
		t.Errorf("pprof after SIGINT: exit %d, want 130", code)
	}
}

// TestBenchInterrupted: SIGINT mid-matrix exits 130, keeps the finished
// cells' lines and removes the test binaries.
func TestBenchInterrupted(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("builds and runs benchmark binaries")
	}
	t.Parallel()
	bin := buildPoolbench(t)
	dir := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "bench", "-count", "50", "-benchtime", "5x", "-conns", "1", "-transports", "inmem",
		"-loads", "keepalive", "-routes", "plaintext", "-proc=false", "-out", dir)
	cmd.Dir = "../.."
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "[server 2/") {
	}
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
	}
	if code := exitCode(t, cmd.Wait()); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bench.txt"))
	if err != nil || strings.Count(string(b), "\nBenchmarkServer/") < 2 {
		t.Errorf("the finished cells were not kept (%v):\n%s", err, b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.test")); len(m) > 0 {
		t.Errorf("test binaries left after SIGINT: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.md")); !os.IsNotExist(err) {
		t.Error("a report was written after SIGINT")
	}
}
