// Package profiles reads the server-only profiles poolbench collects per
// cell and says where allocations come from: the top functions by
// alloc_objects, allocations per request, and what each optimization switch
// removes (a diff between two cells), written as profiles.md.
package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// AllocObjects is the sample type counting allocated objects.
const AllocObjects = "alloc_objects"

// Load reads a profile file. Errors name the file and say what is wrong.
func Load(path string) (*profile.Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse parses profile bytes read from name.
func Parse(name string, b []byte) (*profile.Profile, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("profile %s is empty: the server wrote nothing (was the profile fetched before the server stopped?)", name)
	}
	p, err := profile.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("profile %s is not a valid pprof profile: %v", name, err)
	}
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("profile %s is inconsistent: %v", name, err)
	}
	return p, nil
}

// Delta returns end minus start: what happened between two snapshots of a
// cumulative profile (heap and allocs profiles count since process start).
func Delta(start, end *profile.Profile) (*profile.Profile, error) {
	base := start.Copy()
	base.Scale(-1)
	d, err := profile.Merge([]*profile.Profile{end.Copy(), base})
	if err != nil {
		return nil, fmt.Errorf("subtracting profiles: %w", err)
	}
	return d, nil
}

// controlPlane matches the frames of the server's control endpoint: the
// /stats and /debug/pprof/ handlers that snapshot the window.
var controlPlane = regexp.MustCompile(`^(net/http/pprof|runtime/pprof|github\.com/poolbench/poolbench/servers/control)\.`)

// DropControlPlane removes the samples allocated by the control endpoint
// while it took the window's snapshots, leaving what serving traffic did.
func DropControlPlane(p *profile.Profile) {
	p.FilterSamplesByName(nil, controlPlane, nil, nil)
}

// index returns the position of sample type name in p.
func index(p *profile.Profile, name string) (int, error) {
	for i, st := range p.SampleType {
		if st.Type == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("profile has no %s samples (has %v): is it a heap/allocs profile?", name, p.SampleType)
}

// Total sums sample type name over the whole profile.
func Total(p *profile.Profile, name string) (int64, error) {
	i, err := index(p, name)
	if err != nil {
		return 0, err
	}
	var t int64
	for _, s := range p.Sample {
		t += s.Value[i]
	}
	return t, nil
}

// Func is one function's share of a sample type.
type Func struct {
	Name string
	// Flat counts samples in the function itself; Cum includes its callees.
	Flat, Cum int64
}

// Funcs sums sample type name per function, flat and cumulative, sorted
// by flat, then cumulative, then name. Flat is charged to the innermost
// frame outside package runtime, so an allocation made by growslice or
// slicebytetostring counts against the code that appended or converted.
func Funcs(p *profile.Profile, name string) ([]Func, error) {
	return funcs(p, name, false)
}

// LeafFuncs is Funcs with flat charged to the innermost frame, runtime
// or not, as pprof's top does: what a CPU profile's samples were running.
func LeafFuncs(p *profile.Profile, name string) ([]Func, error) {
	return funcs(p, name, true)
}

// ProfilerFrames are the runtime functions that record an allocation's
// stack; in a CPU profile's top they mean the server ran with a high
// MemProfileRate and the profile shows the profiler, not the server.
var ProfilerFrames = []string{
	"runtime.pcvalue", "runtime.findfunc", "runtime.profilealloc", "runtime.mProf_Malloc",
	"runtime.step", "runtime.readvarint", "runtime.funcspdelta", "runtime.(*unwinder).next",
	"runtime.(*unwinder).resolveInternal", "runtime.tracebackPCs", "runtime.callers", "runtime.funcInfo.entry",
	"runtime.setprofilebucket", "runtime.addspecial", "runtime.(*mspan).specialFindSplicePoint",
}

func funcs(p *profile.Profile, name string, leaf bool) ([]Func, error) {
	i, err := index(p, name)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Func{}
	get := func(n string) *Func {
		f := byName[n]
		if f == nil {
			f = &Func{Name: n}
			byName[n] = f
		}
		return f
	}
	for _, s := range p.Sample {
		v := s.Value[i]
		if v == 0 {
			continue
		}
		seen := map[string]bool{}
		flat := false
		// Locations are leaf first, and so are the (inlined) lines of each.
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function == nil {
					continue
				}
				n := l.Function.Name
				if !flat && (leaf || !strings.HasPrefix(n, "runtime.")) {
					flat = true
					get(n).Flat += v
				}
				if !seen[n] {
					seen[n] = true
					get(n).Cum += v
				}
			}
		}
	}
	out := make([]Func, 0, len(byName))
	for _, f := range byName {
		out = append(out, *f)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Flat != out[b].Flat {
			return out[a].Flat > out[b].Flat
		}
		if out[a].Cum != out[b].Cum {
			return out[a].Cum > out[b].Cum
		}
		return out[a].Name < out[b].Name
	})
	return out, nil
}

// Top returns the first n of Funcs by flat value (n <= 0: all).
func Top(p *profile.Profile, name string, n int) ([]Func, error) {
	fs, err := Funcs(p, name)
	if err != nil {
		return nil, err
	}
	if n > 0 && len(fs) > n {
		fs = fs[:n]
	}
	return fs, nil
}

// Change is how a function's flat allocations per request differ between
// two cells.
type Change struct {
	Name string
	// Before and After are flat allocations per request in the two cells.
	Before, After float64
}

// Drop is Before minus After: the allocations per request removed.
func (c Change) Drop() float64 { return c.Before - c.After }

// Diff compares flat alloc_objects per request, function by function,
// between before (served beforeReqs requests) and after (afterReqs).
// Functions that did not change by at least minDrop are left out; the rest
// are sorted by drop, largest first.
func Diff(before, after *profile.Profile, beforeReqs, afterReqs int64, minDrop float64) ([]Change, error) {
	if beforeReqs <= 0 || afterReqs <= 0 {
		return nil, errors.New("diff: both cells need requests served to compare per request")
	}
	fb, err := Funcs(before, AllocObjects)
	if err != nil {
		return nil, err
	}
	fa, err := Funcs(after, AllocObjects)
	if err != nil {
		return nil, err
	}
	m := map[string]*Change{}
	for _, f := range fb {
		if f.Flat != 0 {
			m[f.Name] = &Change{Name: f.Name, Before: float64(f.Flat) / float64(beforeReqs)}
		}
	}
	for _, f := range fa {
		if f.Flat == 0 {
			continue
		}
		c := m[f.Name]
		if c == nil {
			c = &Change{Name: f.Name}
			m[f.Name] = c
		}
		c.After = float64(f.Flat) / float64(afterReqs)
	}
	var out []Change
	for _, c := range m {
		if d := c.Drop(); d >= minDrop || -d >= minDrop {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Drop() != out[b].Drop() {
			return out[a].Drop() > out[b].Drop()
		}
		return out[a].Name < out[b].Name
	})
	return out, nil
}
