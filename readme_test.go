// Package readme_test keeps README.md honest: every fenced block marked
// "sh test" is run, line by line, against the committed reference run and a
// copy of the report's fixture run, and every other shell example is checked
// for make targets and poolbench flags that exist.
package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/runner"
)

// example is one shell command from the README.
type example struct {
	line     int    // 1-based line in the README where the command starts
	cmd      string // the command, continuation lines joined
	runnable bool   // from a block marked "sh test"
	exit     int    // the exit code it must end with ("# exit N"), 0 by default
}

var exitRE = regexp.MustCompile(`#\s*exit\s+(\d+)\s*$`)

// examples extracts the shell commands of every ```sh block.
func examples(readme []byte) ([]example, error) {
	var out []example
	sc := bufio.NewScanner(bytes.NewReader(readme))
	n := 0
	in, runnable := false, false
	var cur *example
	for sc.Scan() {
		n++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			if in {
				if cur != nil {
					return nil, fmt.Errorf("README line %d: a continued command runs into the end of its block", cur.line)
				}
				in = false
				continue
			}
			info := strings.Fields(strings.TrimPrefix(trim, "```"))
			if len(info) > 0 && (info[0] == "sh" || info[0] == "bash") {
				in = true
				runnable = len(info) > 1 && info[1] == "test"
			} else if len(info) > 0 {
				in = false
			}
			continue
		}
		if !in {
			continue
		}
		if cur == nil {
			if trim == "" || strings.HasPrefix(trim, "#") {
				continue
			}
			cur = &example{line: n, runnable: runnable}
		}
		if strings.HasSuffix(trim, `\`) {
			cur.cmd += strings.TrimSuffix(trim, `\`) + " "
			continue
		}
		cur.cmd += trim
		if m := exitRE.FindStringSubmatch(cur.cmd); m != nil {
			cur.exit, _ = strconv.Atoi(m[1])
		}
		out = append(out, *cur)
		cur = nil
	}
	return out, sc.Err()
}

// repoRoot is the module root (this file's folder).
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// buildPoolbench builds cmd/poolbench into a temp bin folder and returns it.
func buildPoolbench(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "poolbench"), "./cmd/poolbench")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building poolbench: %v\n%s", err, out)
	}
	return bin
}

// copyDir copies a folder tree (the fixture run) so examples may write into it.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gitStatus is `git status --porcelain` of the checkout, or "" outside git.
func gitStatus(root string) string {
	cmd := exec.Command("git", "status", "--porcelain", "--untracked-files=all")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// runExample runs one command with bash in root and returns its exit code and output.
func runExample(ctx context.Context, root string, env []string, cmdline string) (int, string) {
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", cmdline)
	cmd.Dir = root
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	return -1, string(out) + err.Error()
}

// TestREADMEExamples runs every "sh test" block of README.md and checks the
// rest for targets and flags that exist.
func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every README example: skipped with -short")
	}
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	exs, err := examples(readme)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildPoolbench(t, root)
	run := filepath.Join(t.TempDir(), "run")
	copyDir(t, filepath.Join(root, "bench", "report", "testdata", "run"), run)
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"R=results/reference", "RUN="+run)
	before := gitStatus(root)
	ran := 0
	for _, ex := range exs {
		if !ex.runnable {
			checkStatic(t, root, bin, ex)
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		code, out := runExample(ctx, root, env, ex.cmd)
		cancel()
		if code != ex.exit {
			t.Errorf("README.md:%d: %s\nexit %d, want %d; output:\n%s", ex.line, ex.cmd, code, ex.exit, tail(out, 20))
		}
	}
	if ran == 0 {
		t.Fatal("README.md has no runnable example (```sh test blocks)")
	}
	t.Logf("ran %d runnable README examples, checked %d others", ran, len(exs)-ran)
	if after := gitStatus(root); after != before {
		t.Errorf("README examples changed the checkout:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// checkStatic checks a command that is too costly to run: make targets must
// exist, and poolbench commands and flags must be ones poolbench has.
func checkStatic(t *testing.T, root, bin string, ex example) {
	t.Helper()
	for _, problem := range staticProblems(root, bin, ex.cmd) {
		t.Errorf("README.md:%d: %s\n%s", ex.line, ex.cmd, problem)
	}
}

var flagRE = regexp.MustCompile(`(?:^|\s)(--?[a-z][a-z0-9-]*)`)

// staticProblems lists what is wrong with a command that is not run.
func staticProblems(root, bin, cmdline string) []string {
	var problems []string
	words := shellWords(stripComment(cmdline))
	if len(words) == 0 {
		return nil
	}
	switch words[0] {
	case "make":
		for _, w := range words[1:] {
			if strings.Contains(w, "=") {
				continue
			}
			cmd := exec.Command("make", "-q", w)
			cmd.Dir = root
			// -q exits 2 when the target does not exist; 1 means "would run".
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) && ee.ExitCode() == 2 {
					problems = append(problems, fmt.Sprintf("make has no target %q", w))
				}
			}
		}
	case "poolbench":
		if len(words) < 2 {
			return nil
		}
		sub := words[1]
		help, _ := exec.Command(filepath.Join(bin, "poolbench"), sub, "-h").CombinedOutput()
		if bytes.Contains(help, []byte("unknown command")) {
			return []string{fmt.Sprintf("poolbench has no command %q", sub)}
		}
		for _, m := range flagRE.FindAllStringSubmatch(strings.Join(words[2:], " "), -1) {
			name := strings.TrimLeft(m[1], "-")
			if !bytes.Contains(help, []byte("-"+name+" ")) && !bytes.Contains(help, []byte("-"+name+"\n")) {
				problems = append(problems, fmt.Sprintf("poolbench %s has no flag -%s", sub, name))
			}
		}
	}
	return problems
}

// shellWords splits a command into words as the shell does for quotes
// (no expansion): 'a b' and "a b" are one word.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inWord, inS, inD := false, false, false
	for _, r := range s {
		switch {
		case r == '\'' && !inD:
			inS, inWord = !inS, true
		case r == '"' && !inS:
			inD, inWord = !inD, true
		case (r == ' ' || r == '\t') && !inS && !inD:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// stripComment drops a trailing shell comment (not inside quotes).
func stripComment(s string) string {
	inS, inD := false, false
	for i, r := range s {
		switch {
		case r == '\'' && !inD:
			inS = !inS
		case r == '"' && !inS:
			inD = !inD
		case r == '#' && !inS && !inD && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestBrokenExamplesFail feeds the checks a README with a broken runnable
// example and broken static ones, so a README test that passes everything
// cannot go unnoticed.
func TestBrokenExamplesFail(t *testing.T) {
	root := repoRoot(t)
	bin := buildPoolbench(t, root)
	readme := "```sh test\npoolbench nosuchcommand\npoolbench serve -model nginx  # exit 2\n```\n" +
		"```sh\nmake nosuchtarget\npoolbench run -nosuchflag 1 \\\n  -count 3\n```\n"
	exs, err := examples([]byte(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 4 || !exs[0].runnable || exs[1].exit != 2 || exs[2].runnable || exs[3].cmd != "poolbench run -nosuchflag 1  -count 3" {
		t.Fatalf("examples = %+v: want 2 runnable (the second expecting exit 2), then 2 static with the continuation joined", exs)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if code, _ := runExample(context.Background(), root, env, exs[0].cmd); code == exs[0].exit {
		t.Errorf("%q exited %d, as if it worked", exs[0].cmd, code)
	}
	if code, out := runExample(context.Background(), root, env, exs[1].cmd); code != 2 {
		t.Errorf("%q exited %d, want 2:\n%s", exs[1].cmd, code, out)
	}
	if p := staticProblems(root, bin, exs[2].cmd); len(p) != 1 {
		t.Errorf("make nosuchtarget: problems %q, want one", p)
	}
	if p := staticProblems(root, bin, exs[3].cmd); len(p) != 1 || !strings.Contains(p[0], "-nosuchflag") {
		t.Errorf("poolbench run -nosuchflag: problems %q, want one naming the flag", p)
	}
	if _, err := examples([]byte("```sh\npoolbench run \\\n```\n")); err == nil {
		t.Error("no error for a continuation line that runs into the end of its block")
	}
}

var cellPathRE = regexp.MustCompile(`\b(?:transport|model)=[a-z0-9_.]+(?:/[a-z_]+=[a-z0-9_.]+)+`)

// TestREADMECellPaths checks every cell path in the README against the
// code's own key lists: all keys, in order.
func TestREADMECellPaths(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths := cellPathRE.FindAllString(string(readme), -1)
	if len(paths) == 0 {
		t.Fatal("no cell path in README.md")
	}
	for _, p := range paths {
		var keys []string
		for _, seg := range strings.Split(p, "/") {
			k, _, _ := strings.Cut(seg, "=")
			keys = append(keys, k)
		}
		want := runner.Keys()
		if keys[0] == "transport" {
			want = bench.Keys()
		}
		if !slices.Equal(keys, want) {
			t.Errorf("README cell path %s has keys %v, want %v", p, keys, want)
		}
	}
}
