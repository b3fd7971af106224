package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/servers/control"
)

// ServeConfig is one server process: a model, a variant, knobs, addresses.
type ServeConfig struct {
	Model   servers.Model
	Variant app.Variant
	Knobs   servers.Knobs
	// Addr is where HTTP traffic is served; port 0 picks a free one.
	Addr string
	// Control is the loopback address of /stats and /debug/pprof/.
	Control string
	// CPUs pins every thread to this CPU list ("" leaves the mask alone).
	CPUs string
	// GOMAXPROCS sets runtime.GOMAXPROCS when > 0.
	GOMAXPROCS int
	// MemProfileRate sets runtime.MemProfileRate when >= 0 (1 samples
	// every allocation, for exact alloc_objects; distorts timing).
	MemProfileRate int
}

// Ready is what a server process announces once it accepts connections.
type Ready struct {
	PID        int    `json:"pid"`
	Model      string `json:"model"`
	Variant    string `json:"variant"`
	Addr       string `json:"addr"`
	Control    string `json:"control"`
	CPUs       string `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// Serve runs a server process until ctx is done, then shuts it down
// gracefully. ready is called once both listeners are open.
func Serve(ctx context.Context, c ServeConfig, ready func(Ready)) error {
	cpus := "all"
	if c.CPUs != "" {
		got, err := PinSelf(c.CPUs)
		if err != nil {
			return err
		}
		cpus = got
	}
	if c.GOMAXPROCS > 0 {
		runtime.GOMAXPROCS(c.GOMAXPROCS)
	}
	if c.MemProfileRate >= 0 {
		runtime.MemProfileRate = c.MemProfileRate
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listening on %s: address already in use: stop whatever holds the port, or use port 0 to pick a free one", c.Addr)
		}
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	cln, err := control.Listen(c.Control)
	if err != nil {
		ln.Close()
		return err
	}
	h := app.NewHandler(c.Variant)
	ctl := &http.Server{Handler: control.Handler(h.Served), ReadHeaderTimeout: 5 * time.Second}
	go ctl.Serve(cln) //nolint:errcheck // closed below
	defer ctl.Close()
	srv := servers.Start(c.Model, servers.Config{Handler: h, Knobs: c.Knobs}, ln)
	ready(Ready{
		PID: syscall.Getpid(), Model: c.Model.Name, Variant: c.Variant.String(),
		Addr: ln.Addr().String(), Control: cln.Addr().String(),
		CPUs: cpus, GOMAXPROCS: runtime.GOMAXPROCS(0),
	})
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		return fmt.Errorf("%s server stopped serving: %v", c.Model.Name, err)
	}
	return srv.Stop(5 * time.Second)
}
