package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench/gate"
	"github.com/poolbench/poolbench/servers/app"
)

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b)), nil
}

// buildPoolbench builds this command into a temporary folder.
func buildPoolbench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "poolbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building poolbench: %v\n%s", err, out)
	}
	return bin
}

// scratchRepo clones this repository's HEAD into a temporary folder.
func scratchRepo(t *testing.T) string {
	t.Helper()
	root, err := git(".", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("git", "clone", "--quiet", "--no-hardlinks", root, dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	for _, kv := range [][]string{{"user.name", "gate test"}, {"user.email", "gate@test.invalid"}} {
		if _, err := git(dir, "config", kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// plant appends code to the app handler's Serve, and a helper to its
// file, and commits the change.
func plant(t *testing.T, repo, msg, inServe, helper string) {
	t.Helper()
	const anchor = "\th.served.Add(1)\n\tex := h.acquire()\n"
	editApp(t, repo, msg, anchor, anchor+inServe+"\n", "\n"+helper+"\n")
}

// setPlantSteps sets the planted loop's steps (plant's plantSteps) to n
// and commits the change.
func setPlantSteps(t *testing.T, repo string, n int) {
	t.Helper()
	editApp(t, repo, fmt.Sprintf("plant a loop of %d steps", n), "var plantSteps = 1\n", fmt.Sprintf("var plantSteps = %d\n", n), "")
}

// editApp replaces was with now in servers/app/app.go, appends tail and
// commits the change as msg.
func editApp(t *testing.T, repo, msg, was, now, tail string) {
	t.Helper()
	p := filepath.Join(repo, "servers", "app", "app.go")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(was)) {
		t.Fatalf("servers/app/app.go no longer has %q: update the planted change", was)
	}
	b = append(bytes.Replace(b, []byte(was), []byte(now), 1), tail...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := git(repo, "commit", "-qam", msg); err != nil {
		t.Fatal(err)
	}
}

// runGate runs the gate in repo and returns its exit code and output.
func runGate(t *testing.T, bin, repo string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"gate", "-count", "6", "-benchtime", "100ms", "-routes", "app",
		"-out", filepath.Join(t.TempDir(), "gate")}, args...)...) // a later -count or -out wins
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// pairedArgs run the gate paired on fasthttp's app cell under the paired
// policy (bench/gate/paired.json: a 1% rise in cpu-ns/op fails, and any
// allocation), 4 to 10 rounds of 4 pairs of 30000 requests (sequential: more
// rounds only while undecided).
func pairedArgs(t *testing.T) []string {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || !set.IsSet(gate.PairedCPUs[0]) || !set.IsSet(gate.PairedCPUs[1]) {
		t.Skipf("paired gate runs need cpus %v", gate.PairedCPUs)
	}
	return []string{"-paired", "-count", "4", "-max-rounds", "10", "-pair-samples", "4", "-benchtime", "30000x", "-models", "fasthttp", "-policy", "bench/gate/paired.json"}
}

// baseMedian is the median of unit over the base samples of a gate run.
func baseMedian(t *testing.T, out, unit string) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "base.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []float64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		for i := 3; i < len(f); i += 2 {
			if f[i] == unit {
				if v, err := strconv.ParseFloat(f[i-1], 64); err == nil {
					vs = append(vs, v)
				}
			}
		}
	}
	if len(vs) == 0 {
		t.Fatalf("no %s in %s/base.txt", unit, out)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

// TestGateVerdicts plants real regressions in a scratch clone and checks
// the gate's verdicts, paired (base and head at once, one per CPU, so a
// busy or drifting machine hits both): A/A passes; +1 allocation per
// request fails naming allocs/op 0 → 1; a handler made 3% slower (a fixed
// loop, app.Spin, sized from the A/A run's CPU time per request) fails
// naming cpu-ns/op, under a 1% threshold.
func TestGateVerdicts(t *testing.T) {
	if raceEnabled {
		t.Skip("the gate runs in child processes; the race detector adds nothing here and doubles the time")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	paired := pairedArgs(t)
	bin := buildPoolbench(t)
	repo := scratchRepo(t)

	aa := filepath.Join(t.TempDir(), "aa")
	if code, out := runGate(t, bin, repo, append(paired, "-base", "HEAD", "-require-clean", "-out", aa)...); code != 0 {
		t.Fatalf("A/A gate: exit %d, want 0\n%s", code, out)
	}
	cpuNs := baseMedian(t, aa, "cpu-ns/op")

	plant(t, repo, "plant one allocation per request",
		"\tplantSink = &plant{}",
		"type plant struct {\n\tp *int\n\tn [4]int\n}\n\nvar plantSink *plant")
	code, out := runGate(t, bin, repo, "-base", "HEAD~1", "-models", "fasthttp", "-count", "4")
	if code != 1 || !strings.Contains(out, "REGRESSION Server/transport=inmem/model=fasthttp/route=app") || !strings.Contains(out, "allocs/op: 0 → 1") {
		t.Fatalf("+1 alloc/request gate: exit %d, want 1 naming fasthttp's allocs/op 0 → 1\n%s", code, out)
	}

	// +3%: app.Spin steps worth 3% of a request's CPU time; a step costs
	// what its fastest timing here says (in the handler a little more).
	step := math.Inf(1)
	for range 15 {
		start := time.Now()
		app.Spin(1 << 20)
		step = min(step, float64(time.Since(start))/(1<<20))
	}
	steps := int(math.Round(0.03 * cpuNs / step))
	// The base runs the loop for 1 step, the head for steps: only a
	// variable changes, so the code's layout does not (moving code alone
	// shifts a handler's cost by a few percent, which the gate would
	// rightly see).
	plant(t, repo, "plant a loop of 1 step in the handler",
		"\tpath = path[:len(path)-Spin(plantSteps)] // parsing waits for the loop", "var plantSteps = 1")
	setPlantSteps(t, repo, steps)
	code, out = runGate(t, bin, repo, append(paired, "-base", "HEAD~1")...)
	if code != 1 || !strings.Contains(out, "REGRESSION Server/transport=inmem/model=fasthttp/route=app") || !strings.Contains(out, "cpu-sec/op: +") {
		t.Fatalf("+3%% handler (%d steps of %.2f ns on %.0f cpu-ns/op): exit %d, want 1 naming cpu-sec/op\n%s", steps, step, cpuNs, code, out)
	}
	t.Logf("+3%% handler (%d steps of %.2f ns on %.0f cpu-ns/op) caught:\n%s", steps, step, cpuNs, out[strings.LastIndex(out, "poolbench gate: base"):])
}

// TestGateCannotCompare checks the exit-2 paths, each with its reason.
func TestGateCannotCompare(t *testing.T) {
	if raceEnabled {
		t.Skip("the gate runs in child processes; the race detector adds nothing here")
	}
	bin := buildPoolbench(t)
	repo := scratchRepo(t)
	code, out := runGate(t, bin, repo, "-base", "no-such-branch")
	if code != 2 || !strings.Contains(out, `base revision "no-such-branch" does not exist`) {
		t.Errorf("unknown base: exit %d, want 2 naming the revision\n%s", code, out)
	}
	// -routes app: the default gate's 4 cells less the plaintext ones,
	// printed before anything is checked out.
	if !strings.Contains(out, "gating 2 cell(s)") || !strings.Contains(out, "\n  BenchmarkServer/transport=inmem/model=nethttp/route=app/load=keepalive/conns=16/pool=on/conv=on/reuse=on\n") ||
		strings.Contains(out, "route=plaintext") {
		t.Errorf("the gate did not print its 2 cells (-routes app):\n%s", out)
	}
	os.WriteFile(filepath.Join(repo, "scratch.txt"), []byte("dirty"), 0o644)
	code, out = runGate(t, bin, repo, "-base", "HEAD", "-require-clean")
	if code != 2 || !strings.Contains(out, "uncommitted changes and -require-clean is set") {
		t.Errorf("dirty tree: exit %d, want 2 saying the tree is dirty\n%s", code, out)
	}
	os.Remove(filepath.Join(repo, "scratch.txt"))
	plant(t, repo, "plant a build failure", "\tthis does not compile", "")
	code, out = runGate(t, bin, repo, "-base", "HEAD~1")
	if code != 2 || !strings.Contains(out, "building head (the working tree) failed") {
		t.Errorf("head that does not build: exit %d, want 2 naming the side\n%s", code, out)
	}
	code, out = runGate(t, bin, repo, "-base", "HEAD", "-head", "HEAD~1")
	if code != 2 || !strings.Contains(out, "building base (HEAD) failed") {
		t.Errorf("base that does not build: exit %d, want 2 naming the side\n%s", code, out)
	}
	code, out = runGate(t, bin, repo, "-base", "HEAD~1", "-count", "3")
	if code != 2 || !strings.Contains(out, "below the policy's min_samples") {
		t.Errorf("-count 3: exit %d, want 2\n%s", code, out)
	}
}

// TestGateRefusesBadInputBeforeBuilding checks that every bad flag or
// policy is named with exit 2 before anything is built or written.
func TestGateRefusesBadInputBeforeBuilding(t *testing.T) {
	t.Parallel()
	bin := buildPoolbench(t)
	repo := scratchRepo(t)
	write := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"benchtime", []string{"-base", "HEAD", "-benchtime", "garbage"}, `-benchtime "garbage": want a positive duration or a count`},
		{"models", []string{"-base", "HEAD", "-models", "apache"}, `"apache"`},
		{"conns", []string{"-base", "HEAD", "-conns", "0"}, `-conns "0": "0" is not a positive integer`},
		{"cpu", []string{"-base", "HEAD", "-cpu", "x"}, `-cpu "x": want GOMAXPROCS values`},
		{"base-mod", []string{"-base-mod", "fasthttp"}, `-base-mod "fasthttp": want module@version`},
		{"no base", nil, "-base is required"},
		{"empty rules", []string{"-base", "HEAD", "-policy", write("p.json", `{"min_samples": 4, "rules": []}`)}, "no rules"},
		{"unknown unit", []string{"-base", "HEAD", "-policy", write("p.json", `{"min_samples": 4, "rules": [{"unit": "nsop", "threshold": 0.05, "alpha": 0.05}]}`)}, `rule unit "nsop": want one of`},
		{"trailing garbage", []string{"-base", "HEAD", "-policy", write("p.json", `{"min_samples": 4, "rules": [{"unit": "ns/op", "threshold": 0.05, "alpha": 0.05}]} garbage`)}, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "gate")
			cmd := exec.Command(bin, append([]string{"gate", "-out", out}, tt.args...)...)
			cmd.Dir = repo
			b, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 2 || !strings.Contains(string(b), tt.want) {
				t.Errorf("exit %d, want 2 with %q\n%s", code, tt.want, b)
			}
			if strings.Contains(string(b), "building") {
				t.Errorf("the gate started building before refusing the input:\n%s", b)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("-out %s was created before the input was refused", out)
			}
		})
	}
}

// gateLeftovers lists the gate folders under tmp and the gate worktrees
// registered in repo.
func gateLeftovers(t *testing.T, repo, tmp string) []string {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(tmp, "poolbench-gate-*"))
	list, err := git(repo, "worktree", "list", "--porcelain")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "worktree ") && strings.Contains(l, "poolbench-gate-") {
			left = append(left, l)
		}
	}
	return left
}

// startGateUntilBuilding starts a gate in a scratch repository, with its
// own TMPDIR and slow builds (an empty build cache), and returns once it
// says it is building the base.
func startGateUntilBuilding(t *testing.T) (bin, repo, tmp string, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	if raceEnabled || testing.Short() {
		t.Skip("builds in child processes")
	}
	bin, repo, tmp = buildPoolbench(t), scratchRepo(t), t.TempDir()
	cmd = exec.Command(bin, "gate", "-base", "HEAD", "-out", filepath.Join(t.TempDir(), "gate"))
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOCACHE="+t.TempDir(), "GOFLAGS=-modcacherw")
	out = &bytes.Buffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	buf := make([]byte, 4096)
	for !strings.Contains(out.String(), "building base") {
		n, err := pr.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			cmd.Wait()
			t.Fatalf("the gate ended before building the base:\n%s", out.String())
		}
	}
	go func() {
		for {
			n, err := pr.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return bin, repo, tmp, cmd, out
}

// gateChildren lists processes whose command line names a path under tmp.
func gateChildren(tmp string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(tmp+"/")) {
			out = append(out, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// TestGateInterruptDuringBuild sends SIGINT while the base builds: the
// gate must stop the build (not build head), remove its worktree and
// temporary folder, leave no child behind and exit 130.
func TestGateInterruptDuringBuild(t *testing.T) {
	_, repo, tmp, cmd, out := startGateUntilBuilding(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, out)
	}
	if strings.Contains(out.String(), "building head") {
		t.Errorf("the gate went on to build head after SIGINT:\n%s", out)
	}
	if left := gateLeftovers(t, repo, tmp); len(left) > 0 {
		t.Errorf("left behind after SIGINT: %v", left)
	}
	if ch := gateChildren(tmp); len(ch) > 0 {
		t.Errorf("children still running after SIGINT: %v", ch)
	}
}

// TestGateKilledLeftoversCleaned SIGKILLs a gate mid-build, then runs a
// later gate, which must remove the worktree registration, the temporary
// folder and any process still working in it.
func TestGateKilledLeftoversCleaned(t *testing.T) {
	bin, repo, tmp, cmd, out := startGateUntilBuilding(t)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if left := gateLeftovers(t, repo, tmp); len(left) < 2 {
		t.Fatalf("a killed gate left %v, want its folder and worktree (else this test proves nothing)\n%s", left, out)
	}
	later := exec.Command(bin, "gate", "-base", "no-such-branch", "-out", filepath.Join(t.TempDir(), "gate"))
	later.Dir = repo
	later.Env = append(os.Environ(), "TMPDIR="+tmp)
	b, _ := later.CombinedOutput()
	if !strings.Contains(string(b), "removed 1 leftover") {
		t.Errorf("the later gate did not report removing the leftovers:\n%s", b)
	}
	if left := gateLeftovers(t, repo, tmp); len(left) > 0 {
		t.Errorf("still there after a later gate: %v", left)
	}
	if ch := gateChildren(tmp); len(ch) > 0 {
		t.Errorf("children of the killed gate still running: %v", ch)
	}
}
