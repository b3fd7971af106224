package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareCmd runs poolbench compare on the reference run and the
// scaled fixture derived from it (bench/compare/testdata/scaled: net/http's
// keep-alive throughput halved, another kernel, no cpu key), and on bad
// input, which must exit 2 with nothing on stdout.
func TestCompareCmd(t *testing.T) {
	t.Parallel()
	bin := buildPoolbench(t)
	const ref, scaled = "../../results/reference", "../../bench/compare/testdata/scaled"
	junk := filepath.Join(t.TempDir(), "junk.txt")
	if err := os.WriteFile(junk, []byte("not a benchmark\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stdout, in this order
	}{
		{"two runs", []string{ref, scaled}, 0, []string{"DIFFERENT: cpu, kernel", "≠  cpu", "Intel(R) Xeon(R)", "unknown", "7 ratios: 5 grew, 0 shrank, 2 unchanged",
			"Proc/client=driver/route=app/load=keepalive/conns=16/", "grew +100.0%", "Proc · req/s", "-50.00%"}},
		{"markdown, flags after the runs", []string{ref, scaled, "-md"}, 0, []string{"## Machine", "| ≠ | kernel | Linux-6.18.44-fc-v669 | Linux-6.19.0-other |", "## Headline ratios", "| cell | A | B | vs A |"}},
		{"sets of runs", []string{"-a", scaled + "," + scaled, "-b", scaled, "-filter", "/load:keepalive"}, 0, []string{"Same machine", "5 ratios: 0 grew, 0 shrank, 5 unchanged", "n=8+4"}},
		{"missing folder", []string{ref, filepath.Join(t.TempDir(), "nope")}, 2, nil},
		{"junk", []string{junk, scaled}, 2, nil},
		{"one run", []string{ref}, 2, nil},
		{"-a without -b", []string{"-a", ref}, 2, nil},
		{"bad filter", []string{"-filter", "/load:(", ref, scaled}, 2, nil},
		{"nothing in common", []string{"-filter", "/load:idle", ref, scaled}, 2, nil},
		{"unknown baseline", []string{"-baseline", "bogus", ref, scaled}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, append([]string{"compare"}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.code != 0 {
				if stdout.Len() > 0 {
					t.Errorf("bad input printed %d bytes on stdout, want none:\n%s", stdout.Len(), stdout.String())
				}
				if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); stderr.Len() == 0 || lines > 0 && !strings.Contains(stderr.String(), "usage") {
					t.Errorf("want one line on stderr, got:\n%s", stderr.String())
				}
				return
			}
			out := stdout.String()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(out[at:], w)
				if i < 0 {
					t.Fatalf("stdout lacks %q after byte %d:\n%s", w, at, out)
				}
				at += i
			}
		})
	}
}
