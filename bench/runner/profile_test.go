package runner

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/profiles"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// TestProfileRun profiles the keep-alive cell of each model with each switch
// off alone and checks what issue-level promises rest on: the profile's
// allocations per request agree with runtime/metrics, every switch removes
// allocations in the handler's own functions, and no load frames appear.
func TestProfileRun(t *testing.T) {
	s := quick
	s.Duration = time.Second
	dir := t.TempDir()
	r := &Runner{Binary: binary, Dir: dir, Settings: s, Count: 1, Profile: true}
	var cells []Cell
	for _, m := range servers.Names() {
		for _, v := range app.OneOff()[:4] {
			c := testCell(t, m, "keepalive", 4)
			c.Variant = &v
			cells = append(cells, c)
		}
	}
	if err := r.Run(context.Background(), cells); err != nil {
		t.Fatal(err)
	}
	md, err := profiles.WriteReport(filepath.Join(dir, "profiles"))
	if err != nil {
		t.Fatal(err)
	}
	read, err := profiles.ReadCells(filepath.Join(dir, "profiles"))
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != len(cells) {
		t.Fatalf("%d profiled cells read back, want %d", len(read), len(cells))
	}
	for _, c := range read {
		got, want := c.PerRequest(), c.AllocsPerOp
		// Within 10%, or both effectively zero (fasthttp all on: the
		// control endpoint's few allocations spread over the window).
		if diff := math.Abs(got - want); diff > 0.10*math.Max(got, want) && diff > 0.05 {
			t.Errorf("%s: %.3f allocs/request in the profile, %.3f from runtime/metrics: more than 10%% apart", c.Cell, got, want)
		}
		for _, kind := range []string{"allocs", "cpu"} {
			p, err := profiles.Load(filepath.Join(dir, "profiles", c.Cell, kind+".pb.gz"))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range p.Function {
				if strings.Contains(f.Name, "poolbench/workloads") {
					t.Errorf("%s %s profile has a load-driver frame %s", c.Cell, kind, f.Name)
				}
			}
			if kind == "cpu" && len(p.Sample) == 0 {
				t.Errorf("%s: empty cpu profile", c.Cell)
			}
		}
	}
	cmps, err := profiles.Compare(read)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range servers.Names() {
		for _, sw := range app.SwitchKeys() {
			found := false
			for _, c := range cmps {
				if c.Key == sw && c.To.Keys["model"] == m {
					found = true
					if len(c.HandlerDrops()) == 0 {
						t.Errorf("model=%s %s: no handler function lost allocations (changes: %+v); see %s", m, c.Title, c.Changes, md)
					}
				}
			}
			if !found {
				t.Errorf("model=%s: no pair of cells differing only in %s", m, sw)
			}
		}
	}
}

// TestCPUProfileWithoutProfilerFrames profiles one allocation-heavy cell
// and checks that the stack recording of MemProfileRate=1 is not what its
// CPU profile shows: none of profiles.ProfilerFrames in the top 10 by flat.
func TestCPUProfileWithoutProfilerFrames(t *testing.T) {
	s := quick
	s.Duration = time.Second
	dir := t.TempDir()
	r := &Runner{Binary: binary, Dir: dir, Settings: s, Count: 1, Profile: true}
	c := testCell(t, "nethttp", "keepalive", 4)
	if err := r.Run(context.Background(), []Cell{c}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"allocs.pb.gz", profiles.MetaFile} {
		if _, err := os.Stat(filepath.Join(r.ProfileDir(c), f)); err != nil {
			t.Errorf("the allocations run wrote no %s: %v", f, err)
		}
	}
	p, err := profiles.Load(filepath.Join(r.ProfileDir(c), "cpu.pb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := profiles.LeafFuncs(p, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if len(top) < 10 {
		t.Fatalf("the cpu profile has %d functions, want at least 10 to judge its top", len(top))
	}
	// The profiler's own frames: a CPU profile taken with MemProfileRate=1
	// spends a large share of its samples unwinding every allocation's stack.
	// At the default rate the GC's stack scans still use runtime.pcvalue,
	// so in a short window one of these can reach the bottom of the top 10
	// by a sample or two: judge by share, and keep the top 3 free of them.
	var names []string
	var total, profiler int64
	for i, f := range top {
		total += f.Flat
		if slices.Contains(profiles.ProfilerFrames, f.Name) {
			profiler += f.Flat
			if i < 3 {
				t.Errorf("profiler frame %s is among the cpu profile's top 3 by flat", f.Name)
			}
		}
		if i < 10 {
			names = append(names, f.Name)
		}
	}
	share := 100 * float64(profiler) / float64(total)
	t.Logf("cpu profile, top 10 by flat: %s; profiler frames %.1f%% of samples", strings.Join(names, ", "), share)
	if share >= 5 {
		t.Errorf("profiler frames take %.1f%% of the cpu profile's samples (top 10: %s): the cpu run recorded every allocation", share, strings.Join(names, ", "))
	}
}

func TestParseProfileKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		allocs, cpu bool
		ok          bool
	}{
		{"", true, true, true},
		{"allocs", true, false, true},
		{"cpu", false, true, true},
		{"allocs,cpu", true, true, true},
		{"heap", false, false, false},
	} {
		a, c, err := parseProfileKinds(tc.in)
		if (err == nil) != tc.ok || a != tc.allocs || c != tc.cpu {
			t.Errorf("parseProfileKinds(%q) = %v, %v, %v; want %v, %v, ok %v", tc.in, a, c, err, tc.allocs, tc.cpu, tc.ok)
		}
	}
}
