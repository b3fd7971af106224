package runner

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
)

// Keys are the process cells' keys in their fixed order; every cell has all
// of them, with "na" where one does not apply.
var Keys = []string{"model", "client", "route", "load", "conns", "gap", "mem", "pool", "conv", "reuse"}

// Cell is one process-level matrix cell.
type Cell struct {
	Model servers.Model
	// Client is the client model driving the load: "driver" for
	// poolbench's lean driver, or a workloads/clients model (load=client).
	Client string
	Route  bench.Route
	Load   workloads.Workload
	Conns  int // 0 for bursty: vegeta opens what it needs
	// Variant is nil on routes the switches do not apply to.
	Variant *app.Variant
	// ReduceMem turns fasthttp's ReduceMemoryUsage on.
	ReduceMem bool
}

// Name is the sub-benchmark path, prefixed with the benchmark's base name.
func (c Cell) Name() string {
	conns, gap, mem, v := "na", "na", "default", "pool=na/conv=na/reuse=na"
	if c.Variant != nil {
		v = c.Variant.String()
	}
	if c.Conns > 0 {
		conns = strconv.Itoa(c.Conns)
	}
	if b, ok := c.Load.(workloads.Bursty); ok {
		gap = b.Wave.Off.String()
	}
	if c.ReduceMem {
		mem = "reduce"
	}
	client := c.Client
	if client == "" {
		client = "driver"
	}
	return fmt.Sprintf("Proc/model=%s/client=%s/route=%s/load=%s/conns=%s/gap=%s/mem=%s/%s",
		c.Model.Name, client, c.Route.Name, c.Load.Name(), conns, gap, mem, v)
}

// Path is the cell's path below the run folder (profiles, vegeta results).
func (c Cell) Path() string { return strings.TrimPrefix(c.Name(), "Proc/") }

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

// MatrixSpec is the process matrix as text (flags).
type MatrixSpec struct {
	Models, Loads, Routes, Variants string
	// KeepaliveConns, ShortConns, IdleConns sweep connections per workload.
	KeepaliveConns, ShortConns, IdleConns string
	// Gaps sweeps the silence between bursts.
	Gaps string
	// Clients and ClientConns make the client cells (load=client): each
	// client model against the first server model.
	Clients, ClientConns string
	// Bursty is the bursty workload's wave; its Off is swept by Gaps.
	Bursty workloads.Bursty
}

// DefaultMatrix is what `poolbench run` and make bench run by default.
var DefaultMatrix = MatrixSpec{
	Models: "all", Loads: "all", Routes: "app", Variants: "all-on",
	KeepaliveConns: "1,16,64,256,1024", ShortConns: "16,256", IdleConns: "1000,10000",
	Gaps: "500ms,2s", Clients: "all", ClientConns: "100", Bursty: workloads.DefaultBursty,
}

// Cells expands the spec, naming the first bad value.
func (s MatrixSpec) Cells() ([]Cell, error) {
	models, err := servers.ParseModels(s.Models)
	if err != nil {
		return nil, err
	}
	m, err := bench.Spec{Routes: s.Routes, Variants: s.Variants, Conns: "1"}.Parse()
	if err != nil {
		return nil, err
	}
	loads, err := parseLoads(s.Loads)
	if err != nil {
		return nil, err
	}
	sweep := map[string][]int{}
	for name, v := range map[string]string{"keepalive": s.KeepaliveConns, "shortlived": s.ShortConns, "idle": s.IdleConns, "client": s.ClientConns} {
		if sweep[name], err = bench.ParseSweep(name+" conns", v); err != nil {
			return nil, err
		}
	}
	if err := s.Bursty.Validate(); err != nil {
		return nil, err
	}
	var gaps []time.Duration
	for _, g := range strings.Split(s.Gaps, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(g))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("gap sweep %q: %q is not a duration such as 500ms or 2s", s.Gaps, g)
		}
		gaps = append(gaps, d)
	}
	var cms []clients.Model
	if s.Clients == "" || s.Clients == "all" {
		cms = clients.Models
	} else {
		for _, n := range strings.Split(s.Clients, ",") {
			cm, err := clients.Lookup(strings.TrimSpace(n))
			if err != nil {
				return nil, err
			}
			cms = append(cms, cm)
		}
	}
	var cells []Cell
	for _, l := range loads {
		if l == nil { // load=client: every client model against the first server model
			for _, cm := range cms {
				for _, c := range sweep["client"] {
					cells = append(cells, Cell{Model: models[0], Client: cm.Name, Route: m.Routes[0], Load: cm.Load(), Conns: c, Variant: &app.AllOn})
				}
			}
			continue
		}
		for _, mod := range models {
			for _, r := range m.Routes {
				variants := []*app.Variant{nil}
				if r.Variants {
					variants = variants[:0]
					for i := range m.Variants {
						variants = append(variants, &m.Variants[i])
					}
				}
				for _, v := range variants {
					add := func(load workloads.Workload, conns int, reduce bool) {
						cells = append(cells, Cell{Model: mod, Route: r, Load: load, Conns: conns, Variant: v, ReduceMem: reduce})
					}
					switch l.Name() {
					case "bursty":
						for _, g := range gaps {
							b := s.Bursty
							b.Wave.Off = g
							add(b, 0, false)
						}
					case "idle":
						for _, c := range sweep["idle"] {
							add(l, c, false)
							if mod.Name == "fasthttp" {
								add(l, c, true)
							}
						}
					default:
						for _, c := range sweep[l.Name()] {
							add(l, c, false)
						}
					}
				}
			}
		}
	}
	return cells, nil
}

// parseLoads parses the load list; "client" stands for the client cells
// and is returned as nil.
func parseLoads(s string) ([]workloads.Workload, error) {
	if s == "" || s == "all" {
		return append(append([]workloads.Workload{}, workloads.All...), nil), nil
	}
	var out []workloads.Workload
	for _, name := range strings.Split(s, ",") {
		if strings.TrimSpace(name) == "client" {
			out = append(out, nil)
			continue
		}
		w, err := workloads.Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// window is how long the cell's measured window lasts, roughly.
func (c Cell) window(s Settings) time.Duration {
	switch w := c.Load.(type) {
	case workloads.Bursty:
		return time.Duration(w.Bursts)*w.Wave.On + time.Duration(w.Bursts-1)*w.Wave.Off
	case workloads.Idle:
		return w.Hold + time.Second
	}
	return s.Duration
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
		"-client", cmp.Or(c.Client, "driver"),
		"-route", c.Route.Name, "-conns", strconv.Itoa(c.Conns),
		"-duration", s.Duration.String(), "-warmup", s.Warmup.String()}
	if b, ok := c.Load.(workloads.Bursty); ok {
		args = append(args, "-rate", strconv.Itoa(b.Wave.PerSecond), "-on", b.Wave.On.String(),
			"-off", b.Wave.Off.String(), "-bursts", strconv.Itoa(b.Bursts), "-client-idle", b.ClientIdle.String())
		if vegetaOut != "" {
			args = append(args, "-vegeta-out", vegetaOut)
		}
	}
	if i, ok := c.Load.(workloads.Idle); ok {
		args = append(args, "-hold", i.Hold.String())
	}
	if s.LoadCPUs != "" {
		args = append(args, "-cpus", s.LoadCPUs)
	}
	if s.LoadProcs > 0 {
		args = append(args, "-gomaxprocs", strconv.Itoa(s.LoadProcs))
	}
	return args
}
