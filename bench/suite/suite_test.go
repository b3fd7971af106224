package suite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/runner"
)

func TestProgressLines(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	p := NewProgress(&b, false, "server", 4)
	start := p.start
	p.now = func() time.Time { return start.Add(10 * time.Second) }
	p.Done("cell=a")
	p.now = func() time.Time { return start.Add(20 * time.Second) }
	p.Done("cell=b")
	want := "[server 1/4, 10s elapsed, eta 30s] cell=a\n[server 2/4, 20s elapsed, eta 20s] cell=b\n"
	if b.String() != want {
		t.Errorf("log lines:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	u := NewProgress(&b, false, "technique", 0)
	u.now = func() time.Time { return u.start.Add(3 * time.Second) }
	u.Done("x")
	if got := b.String(); got != "[technique 1, 3s] x\n" {
		t.Errorf("unknown total: %q", got)
	}
}

func TestCellPattern(t *testing.T) {
	t.Parallel()
	m, err := bench.Spec{Transports: "all", Models: "all", Routes: "all", Loads: "all", Conns: "1,16", Variants: "default"}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	cells := m.Cells()
	for _, c := range cells {
		re := CellPattern("BenchmarkServer", c.Name())
		n := 0
		for _, o := range cells {
			if matchesBench(re, "BenchmarkServer/"+o.Name()) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("pattern %s matches %d cells, want exactly 1", re, n)
		}
	}
}

// matchesBench applies a -test.bench pattern the way go test does: one
// regexp per slash-separated level.
func matchesBench(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "/"), strings.Split(name, "/")
	if len(ps) > len(ns) {
		return false
	}
	for i, p := range ps {
		if !regexp.MustCompile(p).MatchString(ns[i]) {
			return false
		}
	}
	return true
}

func TestProcCells(t *testing.T) {
	t.Parallel()
	all, err := runner.DefaultMatrix().Cells()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := procCells(nil); err != nil || n != len(all) {
		t.Errorf("procCells(nil) = %d, %v; want the default matrix's %d", n, err, len(all))
	}
	one, err := procCells(strings.Fields("-duration 1s -loads=keepalive -keepalive-conns 16 -models fasthttp"))
	if err != nil || one != 1 {
		t.Errorf("one keepalive cell: got %d, %v", one, err)
	}
	if _, err := procCells([]string{"-models", "apache"}); err == nil || !strings.Contains(err.Error(), "apache") {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := procCells([]string{"-models"}); err == nil {
		t.Error("a matrix flag without a value was accepted")
	}
}

// TestRunRefusesBeforeWriting: every bad setting is a UsageError and
// nothing is created.
func TestRunRefusesBeforeWriting(t *testing.T) {
	t.Parallel()
	good := Config{Count: 1, Benchtime: "10x", GOMAXPROCS: 1, Proc: true, ProcCount: 1,
		Matrix: bench.Spec{Transports: "all", Models: "all", Routes: "all", Loads: "all", Conns: "1", Variants: "default"}}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"count", func(c *Config) { c.Count = 0 }, "-count 0"},
		{"benchtime", func(c *Config) { c.Benchtime = "soon" }, `-benchtime "soon"`},
		{"gomaxprocs", func(c *Config) { c.GOMAXPROCS = 0 }, "-gomaxprocs 0"},
		{"conns", func(c *Config) { c.Matrix.Conns = "0" }, `conns sweep "0"`},
		{"model", func(c *Config) { c.Matrix.Models = "apache" }, `"apache"`},
		{"proc count", func(c *Config) { c.ProcCount = 0 }, "-proc-count 0"},
		{"proc flags", func(c *Config) { c.ProcFlags = []string{"-loads", "nope"} }, `-proc-flags "-loads nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good
			c.Dir = filepath.Join(t.TempDir(), "run")
			tt.edit(&c)
			err := Run(context.Background(), c)
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want a UsageError containing %q", err, tt.want)
			}
			if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
				t.Errorf("%s was created before the bad setting was refused", c.Dir)
			}
		})
	}
}

func TestMdSection(t *testing.T) {
	t.Parallel()
	md := "# T\n\n## Allocations per request\n\n| a |\n\n## What each switch removes\n\nx\n"
	if got := mdSection(md, "## Allocations per request"); got != "## Allocations per request\n\n| a |\n\n" {
		t.Errorf("mdSection = %q", got)
	}
}
