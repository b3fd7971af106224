package profiles

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/poolbench/poolbench/bench/cell"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// Meta describes a profiled cell; it sits beside the cell's profiles.
type Meta struct {
	// Cell is the cell's path, e.g. model=fasthttp/route=app/….
	Cell string `json:"cell"`
	// Requests is what the server served in the profiled window.
	Requests int64 `json:"requests"`
	// AllocsPerOp is runtime/metrics' count for the same window.
	AllocsPerOp float64 `json:"allocs_per_op"`
}

// MetaFile is the file name of a cell's Meta.
const MetaFile = "meta.json"

// HandlerPackage prefixes the function names of the app handler.
const HandlerPackage = "github.com/poolbench/poolbench/servers/app."

// Cell is one profiled cell read back from disk.
type Cell struct {
	Meta
	// Keys are the cell's key=value pairs.
	Keys map[string]string
	// Allocs is the allocation profile of the window.
	Allocs *profile.Profile
	// Total is the window's alloc_objects.
	Total int64
}

// PerRequest is alloc_objects per request served.
func (c *Cell) PerRequest() float64 { return float64(c.Total) / float64(c.Requests) }

// ReadCells reads every profiled cell below dir (folders holding meta.json
// and allocs.pb.gz), sorted by path.
func ReadCells(dir string) ([]*Cell, error) {
	var cells []*Cell
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != MetaFile {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c := &Cell{Keys: map[string]string{}}
		if err := json.Unmarshal(b, &c.Meta); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if c.Requests <= 0 {
			return fmt.Errorf("%s: the cell served no requests", path)
		}
		name, err := cell.Parse(c.Cell)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, kv := range name {
			c.Keys[kv.Key] = kv.Value
		}
		if c.Allocs, err = Load(filepath.Join(filepath.Dir(path), "allocs.pb.gz")); err != nil {
			return err
		}
		if c.Total, err = Total(c.Allocs, AllocObjects); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(filepath.Dir(path), "allocs.pb.gz"), err)
		}
		cells = append(cells, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(cells) == 0 {
		return nil, fmt.Errorf("no profiled cells (%s files) below %s: run poolbench run -profile first", MetaFile, dir)
	}
	sort.Slice(cells, func(a, b int) bool { return cells[a].Cell < cells[b].Cell })
	return cells, nil
}

// pair is one key whose value changes between two compared cells.
type pair struct{ key, from, to string }

// pairs are what Compare diffs, derived from the registries: each switch
// off → on, then the baseline model → each other model.
func pairs() []pair {
	var out []pair
	for _, k := range app.SwitchKeys() {
		out = append(out, pair{k, "off", "on"})
	}
	base := servers.Baseline().Name
	for _, m := range servers.Names() {
		if m != base {
			out = append(out, pair{"model", base, m})
		}
	}
	return out
}

// Comparison is the diff between two cells that differ in one key.
type Comparison struct {
	// Title says what changes, e.g. "pool: off → on".
	Title     string
	Key       string
	From, To  *Cell
	Changes   []Change
	FromTotal float64
	ToTotal   float64
}

// sameExcept reports whether a and b agree on every key but key.
func sameExcept(a, b *Cell, key string) bool {
	for k, v := range a.Keys {
		if k != key && b.Keys[k] != v {
			return false
		}
	}
	return len(a.Keys) == len(b.Keys)
}

// minDrop hides changes smaller than this many allocations per request.
const minDrop = 0.01

// Compare finds, for each switch, each pair of cells where only that switch
// differs (off → on), and for models each pair where only the model
// differs (the baseline → each other model), and diffs their allocations
// per request.
func Compare(cells []*Cell) ([]Comparison, error) {
	var out []Comparison
	switches := app.SwitchKeys()
	for _, p := range pairs() {
		for _, a := range cells {
			if a.Keys[p.key] != p.from {
				continue
			}
			// Compare each switch from the cell with every other switch on.
			if p.key != "model" && !othersOn(a, p.key, switches) {
				continue
			}
			for _, b := range cells {
				if b.Keys[p.key] != p.to || !sameExcept(a, b, p.key) {
					continue
				}
				ch, err := Diff(a.Allocs, b.Allocs, a.Requests, b.Requests, minDrop)
				if err != nil {
					return nil, err
				}
				out = append(out, Comparison{
					Title: fmt.Sprintf("%s: %s → %s", p.key, p.from, p.to), Key: p.key, From: a, To: b,
					Changes: ch, FromTotal: a.PerRequest(), ToTotal: b.PerRequest(),
				})
			}
		}
	}
	return out, nil
}

func othersOn(c *Cell, key string, switches []string) bool {
	for _, s := range switches {
		if s != key && c.Keys[s] != "on" {
			return false
		}
	}
	return true
}

// HandlerDrops returns the changes of the app handler's own functions whose
// allocations per request fell.
func (c Comparison) HandlerDrops() []Change {
	var out []Change
	for _, ch := range c.Changes {
		if strings.HasPrefix(ch.Name, HandlerPackage) && ch.Drop() > 0 {
			out = append(out, ch)
		}
	}
	return out
}

// WriteReport writes dir/profiles.md from the profiled cells below dir and
// returns its path.
func WriteReport(dir string) (string, error) {
	cells, err := ReadCells(dir)
	if err != nil {
		return "", err
	}
	cmps, err := Compare(cells)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	Render(&b, cells, cmps)
	path := filepath.Join(dir, "profiles.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// Render writes the markdown report.
func Render(b *strings.Builder, cells []*Cell, cmps []Comparison) {
	b.WriteString("# Server allocation profiles\n\n")
	b.WriteString("Every profile is the server process's own, recorded with `runtime.MemProfileRate = 1` over the measured\n")
	b.WriteString("window only (the difference of two heap snapshots, less the control endpoint's own allocations while it\n")
	b.WriteString("took them). Allocations are charged to the innermost frame\n")
	b.WriteString("outside package runtime. Open one with `go tool pprof -sample_index=alloc_objects -top <cell>/allocs.pb.gz`.\n")
	b.WriteString("Each `cpu.pb.gz` comes from a second run of the cell with the default `MemProfileRate`: at 1 the runtime's\n")
	b.WriteString("stack recording for every allocation (`runtime.pcvalue`, `findfunc`) would top the CPU profile.\n\n")
	b.WriteString("## Allocations per request\n\n| cell | requests | from the profile | runtime/metrics |\n|---|---:|---:|---:|\n")
	for _, c := range cells {
		fmt.Fprintf(b, "| `%s` | %d | %.2f | %.2f |\n", c.Cell, c.Requests, c.PerRequest(), c.AllocsPerOp)
	}
	b.WriteString("\n## What each switch removes\n\n")
	b.WriteString("Functions whose allocations per request changed by at least 0.01 between two cells that differ only in\nthe named key; ★ marks the app handler's own code.\n")
	if len(cmps) == 0 {
		b.WriteString("\nNo two cells differ in one switch only: profile with the default variants to see this section.\n")
	}
	for _, c := range cmps {
		fmt.Fprintf(b, "\n### %s (`%s`)\n\n%.2f → %.2f allocs/request.\n\n", c.Title, c.To.Cell, c.FromTotal, c.ToTotal)
		if len(c.Changes) == 0 {
			b.WriteString("No function changed.\n")
			continue
		}
		b.WriteString("| function | before | after | removed |\n|---|---:|---:|---:|\n")
		for i, ch := range c.Changes {
			if i == 12 {
				fmt.Fprintf(b, "| … %d more | | | |\n", len(c.Changes)-i)
				break
			}
			star := ""
			if strings.HasPrefix(ch.Name, HandlerPackage) {
				star = "★ "
			}
			fmt.Fprintf(b, "| %s`%s` | %.2f | %.2f | %.2f |\n", star, ch.Name, ch.Before, ch.After, ch.Drop())
		}
	}
	b.WriteString("\n## Top functions per cell\n")
	for _, c := range cells {
		top, err := Top(c.Allocs, AllocObjects, 8)
		if err != nil {
			continue
		}
		fmt.Fprintf(b, "\n### `%s`\n\n| function | flat/request | cum/request |\n|---|---:|---:|\n", c.Cell)
		for _, f := range top {
			if f.Flat == 0 {
				break
			}
			fmt.Fprintf(b, "| `%s` | %.2f | %.2f |\n", f.Name, float64(f.Flat)/float64(c.Requests), float64(f.Cum)/float64(c.Requests))
		}
	}
}
