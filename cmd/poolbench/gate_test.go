package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
	p := filepath.Join(repo, "servers", "app", "app.go")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "\th.served.Add(1)\n\tex := h.acquire()\n"
	if !bytes.Contains(b, []byte(anchor)) {
		t.Fatalf("servers/app/app.go no longer has %q: update the planted change", anchor)
	}
	b = bytes.Replace(b, []byte(anchor), []byte(anchor+inServe+"\n"), 1)
	b = append(b, []byte("\n"+helper+"\n")...)
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
		"-out", filepath.Join(t.TempDir(), "gate")}, args...)...)
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

// TestGateVerdicts plants real regressions in a scratch clone and checks
// the gate's verdicts: A/A passes, +1 allocation per request and a
// markedly slower handler fail with exit 1 naming the metric.
func TestGateVerdicts(t *testing.T) {
	if raceEnabled {
		t.Skip("the gate runs in child processes; the race detector adds nothing here and doubles the time")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildPoolbench(t)
	repo := scratchRepo(t)

	if code, out := runGate(t, bin, repo, "-base", "HEAD", "-require-clean"); code != 0 {
		t.Fatalf("A/A gate: exit %d, want 0\n%s", code, out)
	}

	plant(t, repo, "plant one allocation per request",
		"\tplantSink = &plant{}",
		"type plant struct {\n\tp *int\n\tn [4]int\n}\n\nvar plantSink *plant")
	code, out := runGate(t, bin, repo, "-base", "HEAD~1")
	if code != 1 || !strings.Contains(out, "REGRESSION Server/transport=inmem/model=fasthttp/route=app") || !strings.Contains(out, "allocs/op: 0 → 1") {
		t.Fatalf("+1 alloc/request gate: exit %d, want 1 naming fasthttp's allocs/op 0 → 1\n%s", code, out)
	}

	plant(t, repo, "plant a slow handler",
		"\tplantSpin(3000)",
		"var spinSink uint64\n\nfunc plantSpin(n int) {\n\tx := spinSink | 1\n\tfor i := 0; i < n; i++ {\n\t\tx = x*6364136223846793005 + 1442695040888963407\n\t}\n\tspinSink = x\n}")
	code, out = runGate(t, bin, repo, "-base", "HEAD~1")
	if code != 1 || !strings.Contains(out, "sec/op: +") {
		t.Fatalf("slow handler gate: exit %d, want 1 naming sec/op\n%s", code, out)
	}
	if strings.Contains(out, "allocs/op") && strings.Contains(out, "REGRESSION") && strings.Contains(out, "allocs/op: 0 → 1") {
		t.Errorf("slow handler gate also flags allocs/op, which did not change between HEAD~1 and HEAD:\n%s", out)
	}
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
