package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/workloads"
)

// LoadTool is an outside load generator that drives a process cell in
// place of `poolbench load`, as a cross-check of poolbench's own driver.
// Its name is the cell's client= value. Implementations: Wrk (wrk.go).
type LoadTool interface {
	// Name is the cell's client= value, e.g. "wrk".
	Name() string
	// Drives says whether the tool can drive workload k.
	Drives(k workloads.Kind) bool
	// Available returns why the tool cannot run on this machine, or nil.
	Available() error
	// Load drives cell c against the server srv, pinned and sized as s
	// says for the load, and reports what it measured like `poolbench
	// load` does, with the server's snapshots at the window's edges.
	Load(ctx context.Context, c Cell, s Settings, srv Ready) (*LoadReport, error)
}

// DriverTool is the -load-tool value of poolbench's own driver (client=driver).
const DriverTool = "driver"

// LoadTools is the registry of outside load generators.
var LoadTools = registry.New("load tool", LoadTool.Name, LoadTool(Wrk{}))

// ParseLoadTools parses -load-tool: a comma-separated list of "driver" and
// LoadTools names ("" is the driver alone). It returns whether the driver is selected and the tools.
func ParseLoadTools(list string) (driver bool, tools []LoadTool, err error) {
	if strings.TrimSpace(list) == "" {
		return true, nil, nil // the driver alone
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == DriverTool {
			driver = true
			continue
		}
		t, err := LoadTools.Lookup(name)
		if err != nil {
			return false, nil, fmt.Errorf("-load-tool %q: %q is not a load tool: want %s, e.g. driver,%s", list, name, strings.Join(append([]string{DriverTool}, LoadTools.Names()...), ", "), LoadTools.Names()[0])
		}
		tools = append(tools, t)
	}
	return driver, tools, nil
}

// withLoadTools expands cells for the selected load tools: the driver's
// cells as they are (if the driver is selected), and after each of them a
// copy for every available tool that drives its workload. Tools that are
// not available are left out (SkippedTools says so).
func withLoadTools(cells []Cell, list string) ([]Cell, error) {
	driver, tools, err := ParseLoadTools(list)
	if err != nil {
		return nil, err
	}
	tools = slices.DeleteFunc(tools, func(t LoadTool) bool { return t.Available() != nil })
	var out []Cell
	for _, c := range cells {
		if driver || c.Keys["client"] != "" {
			out = append(out, c)
		}
		if c.Keys["client"] != "" || c.Load.Traits().FixedServer {
			continue // the cell's client is the subject, not the load
		}
		for _, t := range tools {
			if t.Drives(c.Load) {
				tc := c
				tc.Tool = t
				out = append(out, tc)
			}
		}
	}
	return out, nil
}

// SkippedTools returns one line for every selected load tool that cannot
// run here, e.g. "client=wrk cells skipped: wrk is not installed …".
func SkippedTools(list string) []string {
	_, tools, err := ParseLoadTools(list)
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range tools {
		if err := t.Available(); err != nil {
			out = append(out, fmt.Sprintf("client=%s cells skipped: %v", t.Name(), err))
		}
	}
	return out
}

// dropUnmeasured removes the metrics of the units the report's load could
// not measure (LoadReport.Unmeasured), e.g. p999-ns for wrk.
func (r *LoadReport) dropUnmeasured(ms []results.Metric) []results.Metric {
	return slices.DeleteFunc(ms, func(m results.Metric) bool { return slices.Contains(r.Unmeasured, m.Unit) })
}
