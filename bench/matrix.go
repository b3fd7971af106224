// Package bench is poolbench's in-process benchmark layer: BenchmarkServer
// runs every cell of the server matrix (transport × model × route × load ×
// conns × variant) as key=value sub-benchmarks that benchstat can slice, and
// micro-benchmarks time each allocation technique alone. This file holds the
// matrix: its axes, how they are parsed from flags, and how cells are named.
// Every axis is a registry; nothing here knows a model, workload or switch
// by name.
package bench

import (
	"strconv"

	"github.com/poolbench/poolbench/bench/cell"
	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
)

// Keys returns the cell keys in their fixed order; every cell has all of
// them. The switches' keys come from app.Switches.
func Keys() []string {
	return append([]string{"transport", "model", "route", "load", "conns"}, app.SwitchKeys()...)
}

// Matrix is the set of axes a run sweeps.
type Matrix struct {
	Transports []Transport
	Models     []servers.Model
	Routes     []app.RouteSpec
	Loads      []workloads.Kind
	Conns      []int
	Variants   []app.Variant
}

// Axes are what the cells of both layers (this one and bench/runner's
// process cells) hold: the model, route, workload, connection count and
// switches.
type Axes struct {
	Model servers.Model
	Route app.RouteSpec
	// Load is the workload, configured for the cell.
	Load workloads.Kind
	// Conns is the connection count; 0 (conns=na) for workloads that open
	// what they need.
	Conns int
	// Variant is nil for routes the switches do not apply to.
	Variant *app.Variant
}

// Values returns the axes' cell values by key: switches on or off, or
// absent (na) without a variant; conns absent when 0.
func (a Axes) Values() map[string]string {
	v := map[string]string{"model": a.Model.Name, "route": a.Route.Name, "load": a.Load.Name()}
	if a.Conns > 0 {
		v["conns"] = strconv.Itoa(a.Conns)
	}
	if a.Variant != nil {
		for i, k := range app.SwitchKeys() {
			v[k] = "off"
			if a.Variant.On(i) {
				v[k] = "on"
			}
		}
	}
	return v
}

// Cell is one point of the in-process matrix.
type Cell struct {
	Transport Transport
	Axes
}

// Key is the cell's name as key=value pairs in Keys order. Routes without
// variants carry "na" for every switch.
func (c Cell) Key() cell.Name {
	v := c.Values()
	v["transport"] = c.Transport.Name
	return cell.Build(Keys(), v)
}

// Name renders the cell as sub-benchmark path segments in Keys order.
func (c Cell) Name() string { return c.Key().String() }

// RouteVariants returns the variants a route runs with: nil alone for
// routes the switches do not apply to.
func RouteVariants(r app.RouteSpec, vs []app.Variant) []*app.Variant {
	if !r.Variants {
		return []*app.Variant{nil}
	}
	out := make([]*app.Variant, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

// Cells lists every cell of m in Keys order; routes without variants get one
// cell per (transport, model, load, conns), and transports that cross-check
// the harness (AllOnOnly) only the all-on variant.
func (m Matrix) Cells() []Cell {
	var out []Cell
	for _, t := range m.Transports {
		for _, mod := range m.Models {
			for _, r := range m.Routes {
				for _, l := range m.Loads {
					for _, c := range m.Conns {
						for _, v := range RouteVariants(r, m.Variants) {
							if t.AllOnOnly && v != nil && *v != app.AllOn {
								continue
							}
							out = append(out, Cell{t, Axes{mod, r, l, c, v}})
						}
					}
				}
			}
		}
	}
	return out
}

// RoundOrder is the order round (1-based) of an interleaved run takes the
// cells in: every cell's models back to back, so a model ratio pairs
// samples taken moments apart, and the models' order turning each round.
func (m Matrix) RoundOrder(round int) []Cell {
	return cell.RoundOrder(m.Cells(), Cell.withoutModel, round)
}

// withoutModel is the cell's name without its model segment.
func (c Cell) withoutModel() string { return c.Key().Without("model") }

// ClosedLoads is the registry of workloads the in-process layer can run:
// the closed loops, which send a fixed number of requests (b.N).
func ClosedLoads() *registry.Registry[workloads.Kind] {
	var closed []workloads.Kind
	for _, k := range workloads.Kinds() {
		if k.Traits().Closed {
			closed = append(closed, k)
		}
	}
	return registry.New("workload", workloads.Kind.Name, closed...)
}

// Spec is a matrix as text, the way flags and make variables spell it.
type Spec struct {
	Transports, Models, Routes, Loads, Conns, Variants string
	// FlagPrefix is how errors name the flags: "-" for poolbench's
	// commands (-conns); "" is the test binary's "-poolbench." (-poolbench.conns).
	FlagPrefix string
}

// flag is the name errors give the flag of an axis.
func (s Spec) flag(axis string) string {
	if s.FlagPrefix == "" {
		return "-poolbench." + axis
	}
	return s.FlagPrefix + axis
}

// Parse turns a Spec into a Matrix, naming the first bad value.
func (s Spec) Parse() (Matrix, error) {
	var m Matrix
	var err error
	if m.Transports, err = Transports.Parse(s.Transports); err != nil {
		return m, err
	}
	if m.Models, err = servers.Models.Parse(s.Models); err != nil {
		return m, err
	}
	if m.Routes, err = app.Routes.Parse(s.Routes); err != nil {
		return m, err
	}
	if m.Loads, err = ClosedLoads().Parse(s.Loads); err != nil {
		return m, err
	}
	if m.Conns, err = workloads.ParseConns(s.flag("conns"), s.Conns); err != nil {
		return m, err
	}
	if m.Variants, err = app.ParseVariants(s.Variants); err != nil {
		return m, err
	}
	return m, nil
}
