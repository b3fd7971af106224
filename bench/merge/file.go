package merge

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolbench/poolbench/bench/results"
)

// HostResult is one line of a load host's results file (JSON lines): one
// run of one cell, measured from that host.
type HostResult struct {
	// Host is the host's prefix, e.g. "ssh lg1".
	Host string `json:"host"`
	// Cell is the benchmark name without "Benchmark", as in bench.txt.
	Cell string `json:"cell"`
	// Run numbers the cell's runs (0, 1, …).
	Run int `json:"run"`
	// Closed is a closed-loop cell's result.
	Closed *Closed `json:"closed,omitempty"`
	// Vegeta is an open-loop cell's vegeta results file, absolute or
	// relative to the results file's folder.
	Vegeta string `json:"vegeta,omitempty"`
}

// ReadFile reads one host's results file; relative vegeta paths are made
// relative to the file's folder.
func ReadFile(path string) ([]HostResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []HostResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r HostResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if r.Cell == "" || (r.Closed == nil) == (r.Vegeta == "") {
			return nil, fmt.Errorf("%s:%d: want a cell and exactly one of closed or vegeta", path, n)
		}
		if r.Vegeta != "" && !filepath.IsAbs(r.Vegeta) {
			r.Vegeta = filepath.Join(filepath.Dir(path), r.Vegeta)
		}
		rs = append(rs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no results", path)
	}
	return rs, nil
}

// Line is one merged cell run as a benchmark line.
type Line struct {
	Cell    string
	Iters   int64
	Metrics []results.Metric
}

// Lines merges several hosts' results (one slice per host) cell run by cell
// run, in the order of the first host's file. Every host must have every
// cell run, and a cell run must be closed-loop on every host or open-loop
// on every host.
func Lines(hosts [][]HostResult) ([]Line, error) {
	if len(hosts) == 0 {
		return nil, errors.New("merge: no hosts")
	}
	type key struct {
		cell string
		run  int
	}
	index := make([]map[key]HostResult, len(hosts))
	for i, rs := range hosts {
		index[i] = map[key]HostResult{}
		for _, r := range rs {
			k := key{r.Cell, r.Run}
			if _, dup := index[i][k]; dup {
				return nil, fmt.Errorf("merge: host %s has cell %s run %d twice", r.Host, r.Cell, r.Run)
			}
			index[i][k] = r
		}
		if len(index[i]) != len(index[0]) {
			return nil, fmt.Errorf("merge: host %s has %d cell runs, host %s has %d: merge files of one run", rs[0].Host, len(index[i]), hosts[0][0].Host, len(index[0]))
		}
	}
	var lines []Line
	for _, first := range hosts[0] {
		k := key{first.Cell, first.Run}
		var closed []Closed
		var bins []string
		for i := range hosts {
			r, ok := index[i][k]
			if !ok {
				return nil, fmt.Errorf("merge: host %s has no cell %s run %d", hosts[i][0].Host, k.cell, k.run)
			}
			if r.Closed != nil {
				closed = append(closed, *r.Closed)
			} else {
				bins = append(bins, r.Vegeta)
			}
		}
		if len(closed) > 0 && len(bins) > 0 {
			return nil, fmt.Errorf("merge: cell %s run %d is closed-loop on some hosts and open-loop on others", k.cell, k.run)
		}
		l := Line{Cell: k.cell}
		if len(closed) > 0 {
			m, err := ClosedResults(closed)
			if err != nil {
				return nil, fmt.Errorf("cell %s run %d: %w", k.cell, k.run, err)
			}
			l.Iters, l.Metrics = m.Line()
		} else {
			o, err := OpenFiles(bins)
			if err != nil {
				return nil, fmt.Errorf("cell %s run %d: %w", k.cell, k.run, err)
			}
			l.Iters, l.Metrics = o.Line()
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// Line is the merged closed-loop result's benchmark iterations (requests)
// and metrics; percentiles only where every host sent its histogram.
func (m Merged) Line() (int64, []results.Metric) {
	ms := []results.Metric{}
	if m.Rate > 0 {
		ms = append(ms, results.Metric{Value: 1e9 / m.Rate, Unit: "ns/op"}, results.Metric{Value: m.Rate, Unit: "req/s"})
	}
	if h := m.Latency; h != nil && h.TotalCount() > 0 {
		ms = append(ms,
			results.Metric{Value: float64(h.ValueAtQuantile(50)), Unit: "p50-ns"},
			results.Metric{Value: float64(h.ValueAtQuantile(99)), Unit: "p99-ns"},
			results.Metric{Value: float64(h.ValueAtQuantile(99.9)), Unit: "p999-ns"})
	}
	ms = append(ms, results.Metric{Value: float64(m.Errors.Total()), Unit: "errors"})
	return m.OK, ms
}

// Line is the merged open-loop result's benchmark iterations (successful
// requests) and metrics, all computed by vegeta over every host's results.
func (o Open) Line() (int64, []results.Metric) {
	m := &o.Metrics
	ok := int64(float64(m.Requests)*m.Success + 0.5)
	ms := []results.Metric{}
	if m.Throughput > 0 {
		ms = append(ms, results.Metric{Value: 1e9 / m.Throughput, Unit: "ns/op"}, results.Metric{Value: m.Throughput, Unit: "req/s"})
	}
	ms = append(ms,
		results.Metric{Value: float64(m.Latencies.P50), Unit: "p50-ns"},
		results.Metric{Value: float64(m.Latencies.P99), Unit: "p99-ns"},
		results.Metric{Value: float64(m.Latencies.Quantile(0.999)), Unit: "p999-ns"},
		results.Metric{Value: float64(int64(m.Requests) - ok), Unit: "errors"})
	return ok, ms
}

// Write writes merged lines as a Go benchmark file: file-level keys naming
// the load hosts, the units' directions, then one line per cell run.
func Write(w io.Writer, hostNames []string, lines []Line) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "load-hosts: %s\nload-host-count: %d\n", strings.Join(hostNames, ", "), len(hostNames))
	if err := results.WriteUnits(bw); err != nil {
		return err
	}
	fmt.Fprintln(bw)
	for _, l := range lines {
		if err := results.WriteLine(bw, l.Cell, l.Iters, l.Metrics); err != nil {
			return err
		}
	}
	return bw.Flush()
}
