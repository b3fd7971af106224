// Package bench is poolbench's in-process benchmark layer: BenchmarkServer
// runs every cell of the server matrix (transport × model × route × load ×
// conns × variant) as key=value sub-benchmarks that benchstat can slice, and
// micro-benchmarks time each allocation technique alone. This file holds the
// matrix: its axes, how they are parsed from flags, and how cells are named.
package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
)

// Keys are the cell keys in their fixed order; every cell has all of them.
var Keys = []string{"transport", "model", "route", "load", "conns", "pool", "conv", "reuse"}

// Route is one request the matrix can send, with the response it must get.
type Route struct {
	// Name is the cell value, e.g. "app".
	Name string
	// Target is the request's path and query.
	Target string
	// Variants reports whether the app's switches apply to this route.
	Variants bool
}

// Routes is the registry of routes.
var Routes = []Route{
	{Name: "plaintext", Target: app.PlaintextPath, Variants: false},
	{Name: "app", Target: "/app/users?ids=17,42,133,256,404,999&fields=id,name,email,city", Variants: true},
}

// Matrix is the set of axes a run sweeps.
type Matrix struct {
	Transports []Transport
	Models     []servers.Model
	Routes     []Route
	Loads      []workloads.Workload
	Conns      []int
	Variants   []app.Variant
}

// Cell is one point of the matrix.
type Cell struct {
	Transport Transport
	Model     servers.Model
	Route     Route
	Load      workloads.Workload
	Conns     int
	// Variant is nil for routes the switches do not apply to.
	Variant *app.Variant
}

// Name renders the cell as sub-benchmark path segments in Keys order.
// Routes without variants carry pool=na/conv=na/reuse=na.
func (c Cell) Name() string {
	v := "pool=na/conv=na/reuse=na"
	if c.Variant != nil {
		v = c.Variant.String()
	}
	return fmt.Sprintf("transport=%s/model=%s/route=%s/load=%s/conns=%d/%s",
		c.Transport.Name, c.Model.Name, c.Route.Name, c.Load.Name(), c.Conns, v)
}

// Cells lists every cell of m in Keys order; routes without variants get one
// cell per (transport, model, load, conns).
func (m Matrix) Cells() []Cell {
	var out []Cell
	for _, t := range m.Transports {
		for _, mod := range m.Models {
			for _, r := range m.Routes {
				for _, l := range m.Loads {
					for _, c := range m.Conns {
						if !r.Variants {
							out = append(out, Cell{t, mod, r, l, c, nil})
							continue
						}
						for i := range m.Variants {
							out = append(out, Cell{t, mod, r, l, c, &m.Variants[i]})
						}
					}
				}
			}
		}
	}
	return out
}

// ParseSweep parses a comma-separated list of positive integers, e.g. "1,16,256".
func ParseSweep(key, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s sweep %q: %q is not a positive integer: want e.g. 1,16,256", key, s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// pick parses a comma-separated subset of names ("" or "all" is everything).
func pick[T any](key, s string, all []T, name func(T) string) ([]T, error) {
	if s == "" || s == "all" {
		return all, nil
	}
	var out []T
	names := make([]string, len(all))
	for i, x := range all {
		names[i] = name(x)
	}
next:
	for _, want := range strings.Split(s, ",") {
		want = strings.TrimSpace(want)
		for _, x := range all {
			if name(x) == want {
				out = append(out, x)
				continue next
			}
		}
		return nil, fmt.Errorf("unknown %s %q: want one of %s (comma-separated) or all", key, want, strings.Join(names, ", "))
	}
	return out, nil
}

// Spec is a matrix as text, the way flags and make variables spell it.
type Spec struct {
	Transports, Models, Routes, Loads, Conns, Variants string
}

// Parse turns a Spec into a Matrix, naming the first bad value.
func (s Spec) Parse() (Matrix, error) {
	var m Matrix
	var err error
	if m.Transports, err = pick("transport", s.Transports, Transports, func(t Transport) string { return t.Name }); err != nil {
		return m, err
	}
	if m.Models, err = servers.ParseModels(s.Models); err != nil {
		return m, err
	}
	if m.Routes, err = pick("route", s.Routes, Routes, func(r Route) string { return r.Name }); err != nil {
		return m, err
	}
	if m.Loads, err = pick("load", s.Loads, workloads.Closed, workloads.Workload.Name); err != nil {
		return m, err
	}
	if m.Conns, err = ParseSweep("conns", s.Conns); err != nil {
		return m, err
	}
	if m.Variants, err = app.ParseVariants(s.Variants); err != nil {
		return m, err
	}
	return m, nil
}
