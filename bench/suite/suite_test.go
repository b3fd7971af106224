package suite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
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

// TestProcRuns: the in-process flags narrow the process layer, the
// variants run beside the sweep at one keep-alive connection count only, and
// the outside load tools (where installed) at ToolConns, without the driver.
func TestProcRuns(t *testing.T) {
	t.Parallel()
	sweep, err := procCells(nil)
	if err != nil {
		t.Fatal(err)
	}
	models := len(servers.Models.All())
	oneOff := len(app.OneOff()) - 1 // all-on is in the sweep
	// Where wrk is installed: wrk cells at each ToolConns, per model (the
	// driver's are the sweep's).
	toolCells := -1
	if (runner.Wrk{}).Available() == nil {
		toolCells = len(ToolConns) * models
	}
	const sw, tools, vars = "process layer", "outside load tools", "process variants"
	tests := []struct {
		name        string
		scope       ProcScope
		flags       []string
		cells       map[string]int // per run step; -1: the run is absent
		variantArgs string
	}{
		{"default", ProcScope{Variants: "default", VariantConns: 64, VariantCount: 3}, nil,
			map[string]int{sw: sweep, tools: toolCells, vars: models * oneOff},
			"-routes app -loads keepalive -keepalive-conns 64 -variants " + variantList(app.OneOff()[1:])},
		{"all-on only", ProcScope{Variants: "all-on", VariantConns: 64}, nil, map[string]int{sw: sweep, tools: toolCells, vars: -1}, ""},
		{"one model, one conns", ProcScope{Models: "fasthttp", KeepaliveConns: "16", Variants: "pool=off", VariantConns: 32},
			[]string{"-loads", "keepalive", "-keepalive-conns", "16,256"},
			map[string]int{sw: 2, tools: max(toolCells/models, -1), vars: 2},
			// all on at 32 is not in the sweep: it runs with the variant.
			"-models fasthttp -routes app -loads keepalive -keepalive-conns 16,256 -loads keepalive -keepalive-conns 32 -variants all-on;" + app.AllOn.With(app.Pool, false).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runs, err := Config{ProcCount: 5, ProcScope: tt.scope, ProcFlags: tt.flags}.procRuns()
			if err != nil {
				t.Fatal(err)
			}
			byStep := map[string]procRun{}
			for _, r := range runs {
				byStep[r.step] = r
			}
			for step, want := range tt.cells {
				r, ok := byStep[step]
				if want < 0 {
					if ok {
						t.Errorf("%s: unexpected run %s", step, strings.Join(r.args, " "))
					}
					continue
				}
				if !ok || r.cells != want {
					t.Errorf("%s: %d cells (%s), want %d", step, r.cells, strings.Join(r.args, " "), want)
				}
			}
			if runs[0].step != sw || runs[0].count != 5 {
				t.Errorf("the first run is %q %d times per cell, want the sweep -proc-count's 5", runs[0].step, runs[0].count)
			}
			if r, ok := byStep[tools]; ok && r.count != min(ToolCount, 5) {
				t.Errorf("the load-tool cells run %d times, want %d", r.count, min(ToolCount, 5))
			}
			if r, ok := byStep[vars]; ok {
				want := tt.scope.VariantCount
				if want == 0 {
					want = 5
				}
				if r.count != want {
					t.Errorf("the variant cells run %d times, want %d", r.count, want)
				}
				if tt.variantArgs != "" {
					if got := strings.Join(r.args, " "); got != tt.variantArgs {
						t.Errorf("variant run args:\n %s\nwant\n %s", got, tt.variantArgs)
					}
				}
			}
		})
	}
	runs, err := Config{ProcCount: 5, ProcScope: ProcScope{Routes: "plaintext", Variants: "default", VariantConns: 64}}.procRuns()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.step == vars {
			t.Errorf("plaintext only: a variant run %s, want none (no switched route)", strings.Join(r.args, " "))
		}
	}
}

func TestWindowFlags(t *testing.T) {
	t.Parallel()
	got := strings.Join(windowFlags(strings.Fields("-duration 1s -warmup=200ms -keepalive-conns 16 --duration 2s -gaps 2s")), " ")
	if want := "-duration 1s -warmup=200ms --duration 2s"; got != want {
		t.Errorf("windowFlags = %q, want %q", got, want)
	}
}

func variantList(vs []app.Variant) string {
	var s []string
	for _, v := range vs {
		s = append(s, v.String())
	}
	return strings.Join(s, ";")
}

// TestRunRefusesBeforeWriting: every bad setting is a UsageError and
// nothing is created.
func TestRunRefusesBeforeWriting(t *testing.T) {
	t.Parallel()
	good := Config{Count: 1, Benchtime: "10x", GOMAXPROCS: 1, Proc: true, ProcCount: 1,
		Matrix:    bench.Spec{Transports: "all", Models: "all", Routes: "all", Loads: "all", Conns: "1", Variants: "default", FlagPrefix: "-"},
		ProcScope: ProcScope{Variants: "default", VariantConns: 64}}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"count", func(c *Config) { c.Count = 0 }, "-count 0"},
		{"benchtime", func(c *Config) { c.Benchtime = "soon" }, `-benchtime "soon"`},
		{"gomaxprocs", func(c *Config) { c.GOMAXPROCS = 0 }, "-gomaxprocs 0"},
		{"conns", func(c *Config) { c.Matrix.Conns = "0" }, `-conns "0"`},
		{"model", func(c *Config) { c.Matrix.Models = "apache" }, `"apache"`},
		{"proc count", func(c *Config) { c.ProcCount = 0 }, "-proc-count 0"},
		{"proc flags", func(c *Config) { c.ProcFlags = []string{"-loads", "nope"} }, `-proc-flags "-loads nope"`},
		{"proc variants", func(c *Config) { c.ProcScope.Variants = "pool=maybe" }, `-variants "pool=maybe"`},
		{"proc variant conns", func(c *Config) { c.ProcScope.VariantConns = 0 }, "-proc-variant-conns 0"},
		{"proc variant count", func(c *Config) { c.ProcScope.VariantCount = -1 }, "-proc-variant-count -1"},
		{"proc keepalive conns", func(c *Config) { c.ProcScope.KeepaliveConns = "x" }, `-keepalive-conns "x"`},
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

// TestIsFinding: a step that exited 1 (disturbed or failed cells) is a
// finding the pipeline carries to its end; any other failure stops it.
func TestIsFinding(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{1: true, 2: false, 130: false} {
		err := exec.Command("sh", "-c", fmt.Sprintf("exit %d", code)).Run()
		if got := isFinding(fmt.Errorf("poolbench run: %w", err)); got != want {
			t.Errorf("exit %d: isFinding = %v, want %v", code, got, want)
		}
	}
	if isFinding(errors.New("building: no such file")) {
		t.Error("a plain error is a finding")
	}
}
