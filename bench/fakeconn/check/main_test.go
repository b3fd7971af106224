package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := "goos: linux\nBenchmarkServerGet1ReqPerConn \t  284007\t      5395 ns/op\t 0 B/op\nPASS\n"
	n, ns, err := parseBench(out)
	if err != nil || n != 284007 || ns != 5395 {
		t.Errorf("parseBench = %d, %v, %v: want 284007, 5395", n, ns, err)
	}
	for name, bad := range map[string]string{
		"none": "PASS\n",
		"two":  "BenchmarkA 10 5 ns/op\nBenchmarkB 10 6 ns/op\n",
		"n":    "BenchmarkA x 5 ns/op\n",
	} {
		if _, _, err := parseBench(bad); err == nil {
			t.Errorf("%s: parseBench(%q) = nil error", name, bad)
		}
	}
}

func TestRenderVerdict(t *testing.T) {
	t.Parallel()
	mk := func(fh, nh float64) [2][]sample {
		return [2][]sample{{{wall: fh, cpu: fh}, {wall: fh, cpu: fh}}, {{wall: nh, cpu: nh}, {wall: nh, cpu: nh}}}
	}
	for _, c := range []struct {
		name string
		ours float64 // net/http ns for ours, fasthttp at 100; theirs is 5×
		ok   bool
	}{{"same", 500, true}, {"+8%", 540, true}, {"+12%", 560, false}, {"-12%", 440, false}} {
		res := result{{mk(100, 500), mk(100, c.ours)}, {mk(100, 500), mk(100, 500)}}
		var b bytes.Buffer
		if got := render(&b, res, 0.10); got != c.ok {
			t.Errorf("%s: render = %v, want %v\n%s", c.name, got, c.ok, b.String())
		}
		if !strings.Contains(b.String(), "5.00×") {
			t.Errorf("%s: output lacks fasthttp's 5.00× ratio:\n%s", c.name, b.String())
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-rounds", "0"}, {"-benchtime", "0s"}, {"-tolerance", "2"}, {"-nope"}} {
		var stderr bytes.Buffer
		if code := run(args, io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run(%q) = %d with %q, want 2 and a message", args, code, stderr.String())
		}
	}
}
