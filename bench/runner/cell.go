package runner

import (
	"flag"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/cell"
	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
)

// Keys returns the process cells' keys in their fixed order; every cell has
// all of them, with "na" where one does not apply. The switches' keys come
// from app.Switches.
func Keys() []string {
	return append([]string{"model", "client", "route", "load", "conns", "gap", "mem"}, app.SwitchKeys()...)
}

// Cell is one process-level matrix cell.
type Cell struct {
	bench.Axes
	// Keys are the values the workload's sweep point sets beyond load and
	// conns, e.g. gap or client.
	Keys map[string]string
	// ReduceMem turns the model's reduced-memory mode on (mem=reduce).
	ReduceMem bool
	// Tool, if set, drives the cell instead of `poolbench load`
	// (client=<tool name>; loadtool.go).
	Tool LoadTool
}

// Key is the cell's name as key=value pairs in Keys order.
func (c Cell) Key() cell.Name {
	v := c.Values()
	v["client"], v["mem"] = "driver", "default"
	if c.ReduceMem {
		v["mem"] = "reduce"
	}
	maps.Copy(v, c.Keys)
	if c.Tool != nil {
		v["client"] = c.Tool.Name()
	}
	return cell.Build(Keys(), v)
}

// Name is the sub-benchmark path, prefixed with the benchmark's base name.
func (c Cell) Name() string { return "Proc/" + c.Path() }

// Path is the cell's path below the run folder (profiles, vegeta results).
func (c Cell) Path() string { return c.Key().String() }

// Settings are the knobs a whole process run shares.
type Settings struct {
	// Duration and Warmup of closed-loop cells.
	Duration, Warmup time.Duration
	// MaxIdleWorkerDuration for fasthttp in every cell, so bursts can
	// outlast it.
	MaxIdleWorkerDuration time.Duration
	// ServerCPUs, LoadCPUs, ServerProcs, LoadProcs split the machine.
	ServerCPUs, LoadCPUs   string
	ServerProcs, LoadProcs int
}

// DefaultSettings split a 2-core machine: server on cpu 1, load on cpu 0,
// GOMAXPROCS 1 each.
var DefaultSettings = Settings{
	Duration:              2 * time.Second,
	Warmup:                500 * time.Millisecond,
	MaxIdleWorkerDuration: time.Second,
	ServerCPUs:            "1", LoadCPUs: "0",
	ServerProcs: 1, LoadProcs: 1,
}

// Kinds returns every workload the process layer runs, with fresh
// defaults: the workloads registry plus the client-model load.
func Kinds() []workloads.Kind {
	return append(workloads.Kinds(), NewClientKind())
}

// Loads is the registry of Kinds.
func Loads() *registry.Registry[workloads.Kind] {
	return registry.New("workload", workloads.Kind.Name, Kinds()...)
}

// MatrixSpec is the process matrix as text (flags) and the workloads with
// their settings and sweeps.
type MatrixSpec struct {
	Models, Loads, Routes, Variants string
	// LoadTools selects who drives the cells: "driver", outside tools
	// (LoadTools, e.g. wrk) or both, comma-separated (loadtool.go).
	LoadTools string
	// Kinds are every workload, its settings and sweep bound to flags by
	// Flags; Loads selects which run.
	Kinds []workloads.Kind
}

// DefaultMatrix is what `poolbench run` and make bench run by default.
func DefaultMatrix() MatrixSpec {
	return MatrixSpec{Models: "all", Loads: "all", Routes: "app", Variants: "all-on", LoadTools: DriverTool, Kinds: Kinds()}
}

// Flags registers the matrix's flags on fs: the axes, then every
// workload's settings and sweep.
func (s *MatrixSpec) Flags(fs *flag.FlagSet) {
	fs.StringVar(&s.Models, "models", s.Models, "server models: "+strings.Join(servers.Names(), ", ")+" (comma-separated) or all")
	fs.StringVar(&s.Loads, "loads", s.Loads, "workloads: "+strings.Join(registry.New("workload", workloads.Kind.Name, s.Kinds...).Names(), ", ")+" (comma-separated) or all")
	fs.StringVar(&s.Routes, "routes", s.Routes, "routes: "+strings.Join(app.Routes.Names(), ", ")+" (comma-separated) or all")
	fs.StringVar(&s.Variants, "variants", s.Variants, "app variants: default, all, or a list such as 'all-on;"+app.AllOn.With(0, false).String()+"'")
	fs.StringVar(&s.LoadTools, "load-tool", s.LoadTools, "who drives the keep-alive cells: driver, "+strings.Join(LoadTools.Names(), ", ")+" or both, e.g. driver,wrk (client=wrk cells; skipped with a line when wrk is not installed)")
	for _, k := range s.Kinds {
		k.Flags(fs)
		k.SweepFlags(fs)
	}
}

// Cells expands the spec: for each selected workload, its sweep points ×
// models × routes × variants (workloads with FixedServer: the first model,
// first route, all switches on). It names the first bad value.
func (s MatrixSpec) Cells() ([]Cell, error) {
	models, err := servers.Models.Parse(s.Models)
	if err != nil {
		return nil, err
	}
	m, err := bench.Spec{Routes: s.Routes, Variants: s.Variants, Conns: "1"}.Parse()
	if err != nil {
		return nil, err
	}
	loads, err := registry.New("workload", workloads.Kind.Name, s.Kinds...).Parse(s.Loads)
	if err != nil {
		return nil, err
	}
	var cells []Cell
	for _, l := range loads {
		if err := l.Validate(); err != nil {
			return nil, err
		}
		points := l.Points()
		if l.Traits().FixedServer {
			for _, p := range points {
				cells = append(cells, Cell{Axes: bench.Axes{Model: models[0], Route: m.Routes[0], Load: p.Load, Conns: p.Conns, Variant: &app.AllOn}, Keys: p.Keys})
			}
			continue
		}
		for _, mod := range models {
			for _, r := range m.Routes {
				for _, v := range bench.RouteVariants(r, m.Variants) {
					for _, p := range points {
						c := Cell{Axes: bench.Axes{Model: mod, Route: r, Load: p.Load, Conns: p.Conns, Variant: v}, Keys: p.Keys}
						cells = append(cells, c)
						if p.Mem && mod.ReduceMemory {
							c.ReduceMem = true
							cells = append(cells, c)
						}
					}
				}
			}
		}
	}
	return withLoadTools(cells, s.LoadTools) // loadtool.go
}

// serveArgs are the `poolbench serve` arguments for the cell.
func (c Cell) serveArgs(s Settings, memProfileRate int) []string {
	v := app.AllOn
	if c.Variant != nil {
		v = *c.Variant
	}
	args := []string{"serve", "--json", "-model", c.Model.Name, "-variant", v.String(),
		"-addr", "127.0.0.1:0", "-control", "127.0.0.1:0",
		"-max-idle-worker-duration", s.MaxIdleWorkerDuration.String(),
		"-memprofilerate", strconv.Itoa(memProfileRate)}
	if s.ServerCPUs != "" {
		args = append(args, "-cpus", s.ServerCPUs)
	}
	if s.ServerProcs > 0 {
		args = append(args, "-gomaxprocs", strconv.Itoa(s.ServerProcs))
	}
	if c.ReduceMem {
		args = append(args, "-reduce-memory")
	}
	return args
}

// loadArgs are the `poolbench load` arguments for the cell against ready.
func (c Cell) loadArgs(s Settings, r Ready, vegetaOut string) []string {
	args := []string{"load", "--json", "-workload", c.Load.Name(), "-addr", r.Addr, "-control", r.Control,
		"-route", c.Route.Name, "-conns", strconv.Itoa(c.Conns),
		"-duration", s.Duration.String(), "-warmup", s.Warmup.String()}
	args = append(args, c.Load.Args()...)
	if vegetaOut != "" {
		args = append(args, "-vegeta-out", vegetaOut)
	}
	if s.LoadCPUs != "" {
		args = append(args, "-cpus", s.LoadCPUs)
	}
	if s.LoadProcs > 0 {
		args = append(args, "-gomaxprocs", strconv.Itoa(s.LoadProcs))
	}
	return args
}
