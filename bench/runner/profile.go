package runner

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/poolbench/poolbench/profiles"
	"github.com/poolbench/poolbench/servers/control"
)

// profiler collects a server's profiles over the measured window: the
// allocations made inside it (two heap snapshots, each after a GC, so the
// runtime has published every allocation; their difference) and a CPU
// profile started at the window's start and ending a little after its end.
type profiler struct {
	cl      *control.Client
	dir     string
	seconds int

	start []byte
	cpu   chan cpuResult
	err   error
}

type cpuResult struct {
	b   []byte
	err error
}

func newProfiler(cl *control.Client, dir string, window time.Duration) *profiler {
	// A quarter more than the window, so the CPU profile's own encoding
	// happens after the window's end.
	return &profiler{cl: cl, dir: dir, seconds: max(1, int(math.Ceil((window + window/4).Seconds())))}
}

func (p *profiler) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// begin runs at the window's start.
func (p *profiler) begin(ctx context.Context) {
	b, err := p.cl.Get(ctx, "/debug/pprof/heap?gc=1")
	if err != nil {
		p.fail(fmt.Errorf("heap profile at the window's start: %w", err))
		return
	}
	p.start = b
	p.cpu = make(chan cpuResult, 1)
	go func() {
		b, err := p.cl.Get(ctx, "/debug/pprof/profile?seconds="+strconv.Itoa(p.seconds))
		p.cpu <- cpuResult{b, err}
	}()
}

// end runs at the window's end and writes allocs.pb.gz and cpu.pb.gz.
func (p *profiler) end(ctx context.Context) {
	if p.err != nil {
		return
	}
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
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.fail(err)
		return
	}
	var buf bytes.Buffer
	if err := delta.Write(&buf); err != nil {
		p.fail(err)
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, "allocs.pb.gz"), buf.Bytes(), 0o644); err != nil {
		p.fail(err)
		return
	}
	res := <-p.cpu
	if res.err != nil {
		p.fail(fmt.Errorf("cpu profile: %w", res.err))
		return
	}
	if err := os.WriteFile(filepath.Join(p.dir, "cpu.pb.gz"), res.b, 0o644); err != nil {
		p.fail(err)
	}
}
