package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolbench/poolbench/bench/hosts"
	"github.com/poolbench/poolbench/bench/merge"
	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/internal/check"
	"github.com/poolbench/poolbench/servers/control"
)

// Hosts runs every cell's server and loads on other hosts, through command
// prefixes (package hosts): `poolbench serve` through Server, one
// `poolbench load` through each of Loads, the loads all starting at one
// absolute time. Each load host's result is kept (Runner.Dir/hosts/
// load-host-<n>.jsonl, merge.HostResult lines that `poolbench merge`
// reads), the hosts' results are merged by package merge into the cell's
// line, and the server's CPU, allocations and memory are read once per
// cell through a forward of its loopback control port. Set Runner.Hosts.
type Hosts struct {
	// Server runs `poolbench serve`; Loads each run `poolbench load`.
	Server hosts.Host
	Loads  []hosts.Host
	// ServerAddr is the server's HTTP listen address on its host, the
	// address the load hosts dial, e.g. 10.0.0.1:0 (port 0 picks one).
	ServerAddr string
	// AllowRemote passes --allow-remote to serve and load, needed for any
	// ServerAddr off loopback.
	AllowRemote bool
	// Ship copies the local poolbench binary to every host first (Prepare);
	// otherwise `poolbench` must be on each host's PATH.
	Ship bool
	// Lead is how long after the last load is started the loads begin
	// together (default 2s: ssh connection set-up).
	Lead time.Duration

	serverBin string
	loadBins  []string
	removes   []func() error
}

// HostsResult is what one multi-host cell run measured, beyond the merged
// report: each load host's own report and the server's count.
type HostsResult struct {
	Server string       `json:"server_host"`
	Loads  []HostReport `json:"load_hosts"`
	// Served is the server's own count of requests over the cell.
	Served int64 `json:"served"`
}

// HostReport is one load host's report of a cell run.
type HostReport struct {
	Host   string      `json:"host"`
	Report *LoadReport `json:"report"`
	// Vegeta is the host's vegeta results file, fetched into the run
	// folder (open-loop cells).
	Vegeta string `json:"vegeta,omitempty"`
}

// ParseHosts reads --server-host and --load-hosts (comma-separated
// prefixes, e.g. "ssh lg1,ssh lg2"); both or neither must be given.
func ParseHosts(server, loads string) (*Hosts, error) {
	if server == "" && loads == "" {
		return nil, nil
	}
	if server == "" || loads == "" {
		return nil, &check.Error{Flag: "server-host", Value: server, Want: "both -server-host and -load-hosts (one prefix for the server, a comma-separated list for the loads), e.g. -server-host 'ssh srv' -load-hosts 'ssh lg1,ssh lg2'"}
	}
	srv, err := hosts.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("-server-host: %w", err)
	}
	h := &Hosts{Server: srv}
	for _, l := range strings.Split(loads, ",") {
		if strings.TrimSpace(l) == "" {
			return nil, &check.Error{Flag: "load-hosts", Value: loads, Want: "comma-separated command prefixes, none empty, e.g. 'ssh lg1,ssh lg2'"}
		}
		lh, err := hosts.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("-load-hosts: %w", err)
		}
		h.Loads = append(h.Loads, lh)
	}
	return h, nil
}

// Validate checks the server address and that every cell can run across
// hosts: per-connection and client-model workloads, and profiling runs,
// need the server's process on this host.
func (h *Hosts) Validate(cells []Cell, profile bool) error {
	hp, err := check.Address("server-addr", h.ServerAddr, h.AllowRemote)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(hp)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return &check.Error{Flag: "server-addr", Value: h.ServerAddr, Want: "the server host's IP address the load hosts dial, e.g. 10.0.0.1:0 (not a name, not 0.0.0.0)"}
	}
	h.ServerAddr = hp
	if profile {
		return &check.Error{Flag: "profile", Value: "true", Want: "no -profile with -server-host: profile on the server host with a one-host run"}
	}
	for _, c := range cells {
		if t := c.Load.Traits(); t.PerConn || t.FixedServer {
			return &check.Error{Flag: "loads", Value: c.Load.Name(), Want: "request workloads with -server-host (keepalive, shortlived, bursty): " + c.Load.Name() + " measures this host's processes"}
		}
	}
	return nil
}

// Preamble is the file-level keys naming the hosts.
func (h *Hosts) Preamble() []byte {
	names := make([]string, len(h.Loads))
	for i, l := range h.Loads {
		names[i] = l.String()
	}
	return []byte(fmt.Sprintf("server-host: %s\nserver-addr: %s\nload-hosts: %s\nload-host-count: %d\n",
		h.Server, h.ServerAddr, strings.Join(names, ", "), len(h.Loads)))
}

// Prepare finds the binary on every host: bin shipped there (Ship), or
// `poolbench` on its PATH.
func (h *Hosts) Prepare(ctx context.Context, bin string) error {
	where := func(host hosts.Host) (string, error) {
		if !h.Ship {
			if len(host.Prefix) == 0 {
				return bin, nil
			}
			return "poolbench", nil
		}
		path, remove, err := host.Ship(ctx, bin)
		if err != nil {
			return "", err
		}
		h.removes = append(h.removes, remove)
		return path, nil
	}
	var err error
	if h.serverBin, err = where(h.Server); err != nil {
		return err
	}
	h.loadBins = h.loadBins[:0]
	for _, l := range h.Loads {
		p, err := where(l)
		if err != nil {
			return err
		}
		h.loadBins = append(h.loadBins, p)
	}
	return nil
}

// Close removes the shipped binaries.
func (h *Hosts) Close() error {
	var errs []error
	for _, rm := range h.removes {
		errs = append(errs, rm())
	}
	h.removes = nil
	return errors.Join(errs...)
}

// startRemoteServer starts `poolbench serve` on the server host and reads
// its ready line.
func (h *Hosts) startRemoteServer(ctx context.Context, args []string) (*hosts.Process, Ready, *tail, error) {
	for i := range args { // listen where the load hosts reach it
		if args[i] == "-addr" && i+1 < len(args) {
			args[i+1] = h.ServerAddr
		}
	}
	if h.AllowRemote {
		args = append(args, "-allow-remote")
	}
	pr, pw := io.Pipe()
	errTail := &tail{}
	p, err := h.Server.Start(append([]string{h.serverBin}, args...), hosts.Options{Stdout: pw, Stderr: errTail})
	if err != nil {
		return nil, Ready{}, nil, err
	}
	go func() { p.Wait(); pw.Close() }() //nolint:errcheck // reported through the ready line
	lines := firstLine(pr)
	var ready Ready
	select {
	case line := <-lines:
		if err := json.Unmarshal(line, &ready); err != nil {
			p.Stop(5 * time.Second) //nolint:errcheck
			return nil, Ready{}, nil, fmt.Errorf("server on %s: ready line %q: %v (%s)", h.Server, line, err, errTail.LastLine())
		}
		return p, ready, errTail, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	p.Stop(5 * time.Second) //nolint:errcheck
	if ctx.Err() != nil {
		return nil, Ready{}, nil, ctx.Err()
	}
	return nil, Ready{}, nil, fmt.Errorf("server on %s did not announce itself within 30s (%s)", h.Server, errTail.LastLine())
}

// withoutFlag drops a flag and its value from args.
func withoutFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag && i+1 < len(args) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// runCellHosts is runCell across hosts (Runner.Hosts set).
func (r *Runner) runCellHosts(ctx context.Context, c Cell, rate int) (*CellResult, error) {
	h := r.Hosts
	srv, ready, srvErr, err := h.startRemoteServer(ctx, c.serveArgs(r.Settings, rate))
	if err != nil {
		return nil, err
	}
	defer srv.Stop(10 * time.Second) //nolint:errcheck // a cell's server ends with it
	ctlAddr, closeFwd, err := h.Server.Forward(ctx, ready.Control)
	if err != nil {
		return nil, err
	}
	defer closeFwd()
	ctl := &control.Client{Addr: ctlAddr}
	before, err := ctl.Stats(ctx, control.Options{ResetPeak: true})
	if err != nil {
		return nil, fmt.Errorf("server stats through %s: %w", ctlAddr, err)
	}

	traits := c.Load.Traits()
	lead := h.Lead
	if lead <= 0 {
		lead = 2 * time.Second
	}
	startAt := time.Now().Add(lead)
	type loadRun struct {
		p        *hosts.Process
		out      bytes.Buffer
		errTail  tail
		vegeta   string
		finished bool
	}
	runs := make([]*loadRun, len(h.Loads))
	stopAll := func() {
		for _, lr := range runs {
			if lr != nil && lr.p != nil {
				lr.p.Stop(5 * time.Second) //nolint:errcheck // failing already
			}
		}
	}
	for i, lh := range h.Loads {
		lr := &loadRun{}
		runs[i] = lr
		if traits.Records {
			lr.vegeta = fmt.Sprintf("/tmp/poolbench-%d-%d-%d.vegeta.bin", os.Getpid(), time.Now().UnixNano(), i)
		}
		args := withoutFlag(c.loadArgs(r.Settings, Ready{Addr: ready.Addr}, lr.vegeta), "-control") // the server's control port stays on its loopback
		if h.AllowRemote {
			args = append(args, "-allow-remote")
		}
		p, err := lh.Start(append([]string{h.loadBins[i]}, args...), hosts.Options{Stdout: &lr.out, Stderr: &lr.errTail, StartAt: startAt})
		if err != nil {
			stopAll()
			return nil, err
		}
		lr.p = p
	}
	var wg sync.WaitGroup
	allDone := make(chan struct{})
	for _, lr := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); <-lr.p.Done() }()
	}
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-allDone:
	case <-srv.Done():
		stopAll()
		return nil, fmt.Errorf("the server on %s died mid-cell: %v: %s", h.Server, srv.Wait(), srvErr.LastLine())
	case <-ctx.Done():
		stopAll()
		return nil, ctx.Err()
	}
	after, err := ctl.Stats(ctx, control.Options{})
	if err != nil {
		return nil, fmt.Errorf("server stats through %s: %w", ctlAddr, err)
	}

	res := &HostsResult{Server: h.Server.String(), Served: int64(after.Served - before.Served)}
	var perHost [][]merge.HostResult
	merged := &LoadReport{Workload: c.Load.Name(), Before: &before, After: &after}
	var sum int64
	for i, lr := range runs {
		lh := h.Loads[i]
		if err := lr.p.Wait(); err != nil {
			return nil, fmt.Errorf("load on %s: %v: %s", lh, err, lr.errTail.LastLine())
		}
		var rep LoadReport
		if err := json.Unmarshal(lr.out.Bytes(), &rep); err != nil {
			return nil, fmt.Errorf("load report from %s %q: %w", lh, lr.out.String(), err)
		}
		hr := merge.HostResult{Host: lh.String(), Cell: c.Name()}
		report := HostReport{Host: lh.String(), Report: &rep}
		if lr.vegeta != "" {
			local, final, err := r.fetchVegeta(ctx, lh, lr.vegeta, c, i)
			if err != nil {
				return nil, err
			}
			hr.Vegeta, report.Vegeta = local, final // merged now from the staged file; kept under its final name
		} else {
			var cl merge.Closed
			if err := json.Unmarshal(lr.out.Bytes(), &cl); err != nil {
				return nil, fmt.Errorf("load report from %s: %w", lh, err)
			}
			hr.Closed = &cl
		}
		perHost = append(perHost, []merge.HostResult{hr})
		res.Loads = append(res.Loads, report)
		sum += rep.OK + rep.WarmupOK
		merged.Conns += rep.Conns
		merged.Dials += rep.Dials
		merge.SumErrors(&merged.Errors, rep.Errors)
		merged.ElapsedNs = max(merged.ElapsedNs, rep.ElapsedNs)
		if merged.FirstError == "" {
			merged.FirstError = rep.FirstError
		}
		if i == 0 {
			merged.LoadCPUs, merged.LoadGOMAXPROCS = rep.LoadCPUs, rep.LoadGOMAXPROCS
		}
	}
	lines, err := merge.Lines(perHost)
	if err != nil {
		return nil, err
	}
	line := lines[0]
	merged.OK = line.Iters
	if merged.Errors.Total() == 0 && sum != res.Served {
		return nil, fmt.Errorf("the load hosts counted %d correct responses (warm-up included) but the server served %d requests", sum, res.Served)
	}
	if res.Served <= 0 || line.Iters <= 0 {
		return nil, fmt.Errorf("no request succeeded across the load hosts (errors: %v; first: %s)", merged.Errors, merged.FirstError)
	}
	// The server's side, once per cell over everything it served.
	n := float64(res.Served)
	ms := append(line.Metrics,
		results.Metric{Value: float64(after.CPUNanos-before.CPUNanos) / n, Unit: "cpu-ns/op"},
		results.Metric{Value: float64(after.AllocBytes-before.AllocBytes) / n, Unit: "B/op"},
		results.Metric{Value: float64(after.AllocObjects-before.AllocObjects) / n, Unit: "allocs/op"},
		results.Metric{Value: float64(after.PeakRSSBytes), Unit: "peak-RSS-bytes"})
	return &CellResult{Cell: c.Name(), Ready: ready, Report: merged, Iters: line.Iters, Metrics: ms, Hosts: res}, nil
}

// fetchVegeta copies a load host's vegeta results file into the run
// folder (staged with the cell's line, final once committed) and removes
// it there.
func (r *Runner) fetchVegeta(ctx context.Context, h hosts.Host, remote string, c Cell, i int) (local, final string, err error) {
	b, err := h.Output(ctx, []string{"cat", remote}, nil)
	if err != nil {
		return "", "", fmt.Errorf("fetching vegeta results: %w", err)
	}
	if _, err := h.Output(ctx, []string{"rm", "-f", remote}, nil); err != nil {
		return "", "", err
	}
	final = filepath.Join(r.Dir, "vegeta", c.Path()+".host"+strconv.Itoa(i+1)+".vegeta.bin")
	local = r.sidePath(final)
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return "", "", err
	}
	return local, final, os.WriteFile(local, b, 0o644)
}

// writeHostLines appends each load host's result of a committed cell run
// to Dir/hosts/load-host-<n>.jsonl, as merge.HostResult lines.
func (r *Runner) writeHostLines(res *CellResult) error {
	if res.Hosts == nil {
		return nil
	}
	dir := filepath.Join(r.Dir, "hosts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, hr := range res.Hosts.Loads {
		line := merge.HostResult{Host: hr.Host, Cell: res.Cell, Run: res.Run}
		if hr.Vegeta != "" {
			line.Vegeta = hr.Vegeta
			if rel, err := filepath.Rel(dir, hr.Vegeta); err == nil {
				line.Vegeta = rel
			}
		} else {
			b, err := json.Marshal(hr.Report)
			if err != nil {
				return err
			}
			var cl merge.Closed
			if err := json.Unmarshal(b, &cl); err != nil {
				return err
			}
			line.Closed = &cl
		}
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("load-host-%d.jsonl", i+1)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// firstLine sends the first line read from r (empty if r ends first) and
// keeps draining r, so the writer never blocks: a server's ready line.
func firstLine(r io.Reader) <-chan []byte {
	lines := make(chan []byte, 1)
	go func() {
		br := bufio.NewReader(r)
		line, _ := br.ReadBytes('\n')
		lines <- line
		io.Copy(io.Discard, br) //nolint:errcheck // keep the pipe drained
	}()
	return lines
}
