package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/poolbench/poolbench/profiles"
	"github.com/poolbench/poolbench/servers/control"
)

// Profile kinds a load collects (LoadConfig.ProfileKinds, -profile-kinds).
const (
	// ProfileAllocs is allocs.pb.gz: the allocations made in the window.
	// Exact only with the server at MemProfileRate=1.
	ProfileAllocs = "allocs"
	// ProfileCPU is cpu.pb.gz: the window's CPU profile. Take it with the
	// server at the default MemProfileRate: at 1, recording every
	// allocation's stack (runtime.pcvalue, findfunc, profilealloc…)
	// tops the profile.
	ProfileCPU = "cpu"
)

// parseProfileKinds parses "allocs", "cpu" or "allocs,cpu" ("" is both).
func parseProfileKinds(s string) (allocs, cpu bool, err error) {
	if s == "" {
		return true, true, nil
	}
	for _, k := range strings.Split(s, ",") {
		switch strings.TrimSpace(k) {
		case ProfileAllocs:
			allocs = true
		case ProfileCPU:
			cpu = true
		default:
			return false, false, fmt.Errorf("-profile-kinds %q: %q is not a profile kind: want allocs, cpu or allocs,cpu", s, k)
		}
	}
	return allocs, cpu, nil
}

// profileCell runs a cell twice for its profiles: once with the server at
// MemProfileRate=1 for allocs.pb.gz (its line and meta.json come from
// this run), once at the default rate for cpu.pb.gz, so the profiler's
// own stack walking is not what the CPU profile shows.
func (r *Runner) profileCell(ctx context.Context, c Cell) (*CellResult, error) {
	res, err := r.runCell(ctx, c, 1, ProfileAllocs)
	if err != nil {
		return nil, err
	}
	if err := writeMeta(r.sidePath(r.ProfileDir(c)), c, res.Report, res.Metrics); err != nil { // reliability: staged until its line
		return nil, err
	}
	if _, err := r.runCell(ctx, c, -1, ProfileCPU); err != nil {
		return nil, fmt.Errorf("cpu profile run: %w", err)
	}
	return res, nil
}

// profiler collects a server's profiles over the measured window: the
// allocations made inside it (two heap snapshots, each after a GC, so the
// runtime has published every allocation; their difference) and a CPU
// profile the server starts and stops on control calls at the window's edges.
type profiler struct {
	cl          *control.Client
	dir         string
	allocs, cpu bool

	start []byte
	err   error
}

func newProfiler(cl *control.Client, dir string, allocs, cpu bool) *profiler {
	return &profiler{cl: cl, dir: dir, allocs: allocs, cpu: cpu}
}

func (p *profiler) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// begin runs at the window's start.
func (p *profiler) begin(ctx context.Context) {
	if p.allocs {
		b, err := p.cl.Get(ctx, "/debug/pprof/heap?gc=1")
		if err != nil {
			p.fail(fmt.Errorf("heap profile at the window's start: %w", err))
			return
		}
		p.start = b
	}
	if p.cpu {
		// Started before the window's first request, stopped after its last:
		// a late goroutine in a busy load process cannot miss the window.
		if _, err := p.cl.Post(ctx, "/cpuprofile/start"); err != nil {
			p.fail(fmt.Errorf("cpu profile at the window's start: %w", err))
		}
	}
}

// end runs at the window's end and writes allocs.pb.gz and cpu.pb.gz.
func (p *profiler) end(ctx context.Context) {
	if p.err != nil {
		return
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.fail(err)
		return
	}
	if p.allocs {
		p.endAllocs(ctx)
	}
	if p.cpu && p.err == nil {
		b, err := p.cl.Post(ctx, "/cpuprofile/stop")
		if err != nil {
			p.fail(fmt.Errorf("cpu profile at the window's end: %w", err))
			return
		}
		if err := os.WriteFile(filepath.Join(p.dir, "cpu.pb.gz"), b, 0o644); err != nil {
			p.fail(err)
		}
	}
}

// endAllocs writes allocs.pb.gz: the heap profiles' difference.
func (p *profiler) endAllocs(ctx context.Context) {
	b, err := p.cl.Get(ctx, "/debug/pprof/heap?gc=1")
	if err != nil {
		p.fail(fmt.Errorf("heap profile at the window's end: %w", err))
		return
	}
	start, err := profiles.Parse("heap profile at the window's start", p.start)
	if err != nil {
		p.fail(err)
		return
	}
	end, err := profiles.Parse("heap profile at the window's end", b)
	if err != nil {
		p.fail(err)
		return
	}
	delta, err := profiles.Delta(start, end)
	if err != nil {
		p.fail(err)
		return
	}
	profiles.DropControlPlane(delta)
	var buf bytes.Buffer
	if err := delta.Write(&buf); err != nil {
		p.fail(err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, "allocs.pb.gz"), buf.Bytes(), 0o644); err != nil {
		p.fail(err)
	}
}
