package main

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPairRatio(t *testing.T) {
	t.Parallel()
	// Two lines as `poolbench run` writes them (from results/reference).
	const txt = `commit: 1234567
Unit req/s better=higher

BenchmarkProc/model=fasthttp/client=driver/route=app/load=keepalive/conns=16/gap=na/mem=default/pool=on/conv=on/reuse=on	258581	7741.74 ns/op	129170 req/s	119615 p50-ns	255743 p99-ns	371199 p999-ns	7539.38 cpu-ns/op	0 errors
BenchmarkProc/model=nethttp/client=driver/route=app/load=keepalive/conns=16/gap=na/mem=default/pool=on/conv=on/reuse=on	159264	12571.4 ns/op	79545.9 req/s	188671 p50-ns	511487 p99-ns	700000 p999-ns	12400 cpu-ns/op	0 errors
`
	for _, tt := range []struct {
		unit   string
		higher bool
		want   float64
	}{
		{"req/s", true, 129170 / 79545.9},
		{"cpu-ns/op", false, 12400 / 7539.38},
		{"p99-ns", false, 511487.0 / 255743},
	} {
		got, err := pairRatio(strings.NewReader(txt), tt.unit, tt.higher)
		if err != nil || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: %g, %v; want %g", tt.unit, got, err, tt.want)
		}
	}
	one := strings.Join(strings.Split(txt, "\n")[:4], "\n")
	if _, err := pairRatio(strings.NewReader(one), "req/s", true); err == nil {
		t.Error("a bench.txt without the nethttp line gave a ratio, want an error")
	}
}

// TestCrossoverUsage checks bad flags exit 2 before anything is run or
// written.
func TestCrossoverUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"-load", "bursty"}, "-load"},
		{[]string{"-metric", "B/op"}, "-metric"},
		{[]string{"-threshold", "0"}, "-threshold"},
		{[]string{"-min-conns", "8", "-max-conns", "8"}, "-max-conns"},
		{[]string{"-budget", "2"}, "-budget"},
		{[]string{"-confidence", "1"}, "-confidence"},
		{[]string{"-assume", "exact"}, "-assume"},
		{[]string{"-server-gomaxprocs", "0,2"}, "-server-gomaxprocs"},
		{[]string{"-duration", "0s"}, "-duration"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		err := crossoverCmd(context.Background(), append(tt.args, "-out", out))
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.HasPrefix(ee.msg, tt.flag+" ") || strings.Contains(ee.msg, "\n") {
			t.Errorf("%v: %v, want exit 2 with one line naming %s", tt.args, err, tt.flag)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%v: %s exists, want nothing written", tt.args, out)
		}
	}
}

// TestMergeUsage checks poolbench merge refuses bad input with exit 2.
func TestMergeUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("not json\n"), 0o644) //nolint:errcheck
	out := filepath.Join(dir, "merged.txt")
	for _, args := range [][]string{{}, {"-in", filepath.Join(dir, "missing.jsonl")}, {"-in", bad, "-out", out}} {
		err := mergeCmd(context.Background(), args)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.HasPrefix(ee.msg, "-in ") {
			t.Errorf("merge %v: %v, want exit 2 naming -in", args, err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s written for bad input", out)
	}
}

// TestPairCells: each probe runs exactly one fasthttp and one net/http cell
// at its connection count, for every load a search may follow.
func TestPairCells(t *testing.T) {
	t.Parallel()
	for _, load := range []string{"keepalive", "shortlived"} {
		cells, err := pairCells(load, 7)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cells {
			got = append(got, c.Name())
		}
		if len(cells) != 2 || cells[0].Model.Name != "fasthttp" || cells[1].Model.Name != "nethttp" || cells[0].Conns != 7 || cells[1].Conns != 7 {
			t.Errorf("%s: cells %v: want one fasthttp and one nethttp cell at conns=7", load, got)
		}
	}
}

// TestNextDirFresh: a second search into the same folder never reuses a
// sample folder of the first (the runner would append to its bench.txt).
func TestNextDirFresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := &cellPair{Dir: dir, Load: "keepalive"}
	a := first.nextDir(1)
	if err := os.MkdirAll(a, 0o755); err != nil {
		t.Fatal(err)
	}
	second := &cellPair{Dir: dir, Load: "keepalive"}
	if b := second.nextDir(1); b == a {
		t.Errorf("second search's first folder %s: want a fresh one", b)
	}
}
