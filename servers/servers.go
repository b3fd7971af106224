// Package servers holds the HTTP server models poolbench compares: fasthttp's
// worker pool, which reuses goroutines across connections, and net/http's
// goroutine per connection. Both serve the same app.Handler behind the Server
// interface; Models is the explicit registry of them.
package servers

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/servers/app"
)

// Server is one server model serving the app on a listener.
type Server interface {
	// Serve accepts connections on ln until Shutdown; it returns nil after
	// a graceful shutdown.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, closes idle connections and waits for
	// active ones until ctx is done.
	Shutdown(ctx context.Context) error
}

// Knobs are the server settings a cell may turn. Zero means the model's default.
type Knobs struct {
	// IdleTimeout closes keep-alive connections idle this long (both models).
	IdleTimeout time.Duration
	// ReadTimeout bounds reading one request (both models).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response (both models).
	WriteTimeout time.Duration

	// Concurrency caps fasthttp's workers, i.e. connections served at once.
	Concurrency int
	// MaxIdleWorkerDuration is how long an idle fasthttp worker goroutine
	// waits for a new connection before it exits.
	MaxIdleWorkerDuration time.Duration
	// ReduceMemoryUsage makes fasthttp release per-connection buffers while
	// a connection is idle, trading CPU for memory.
	ReduceMemoryUsage bool

	// ReadHeaderTimeout bounds reading request headers (net/http only).
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes caps request header size (net/http only).
	MaxHeaderBytes int
}

// Config is what a model needs to build a server.
type Config struct {
	// Handler is the application; its Variant picks the techniques.
	Handler *app.Handler
	// Knobs are the server settings.
	Knobs Knobs
}

// Model is one row of the registry: a named way to build a Server.
type Model struct {
	// Name is the model's cell value, e.g. "fasthttp".
	Name string
	// Doc says in one line what the model is.
	Doc string
	// New builds a server from cfg.
	New func(cfg Config) Server
	// Baseline marks the model every other one is compared against in
	// reports and profile pairs; Baseline() falls back to the first row.
	Baseline bool
	// ReduceMemory reports whether the model honours Knobs.ReduceMemoryUsage:
	// workloads that measure memory also run it with mem=reduce.
	ReduceMemory bool
	// ZeroAlloc promises no allocation per request with every switch on
	// (a test holds the model to it).
	ZeroAlloc bool
}

// Models is the registry of server models, in the order cells run.
var Models = registry.New("server model", func(m Model) string { return m.Name },
	Model{Name: "fasthttp", Doc: "fasthttp.Server: a pool of worker goroutines reused across connections", New: newFastHTTP, ReduceMemory: true, ZeroAlloc: true},
	Model{Name: "nethttp", Doc: "net/http.Server: one goroutine per connection", New: newNetHTTP, Baseline: true},
)

// Names returns the registered model names, in order.
func Names() []string { return Models.Names() }

// Lookup returns the model registered under name.
func Lookup(name string) (Model, error) { return Models.Lookup(name) }

// ParseModels parses a comma-separated list of model names; "" or "all" is every model.
func ParseModels(s string) ([]Model, error) { return Models.Parse(s) }

// Baseline returns the model the others are compared against: the row
// marked Baseline, else the first.
func Baseline() Model {
	all := Models.All()
	for _, m := range all {
		if m.Baseline {
			return m
		}
	}
	return all[0]
}

// Running is a server serving in the background.
type Running struct {
	srv  Server
	done chan error
}

// Start serves ln with a new server of model m in a background goroutine.
func Start(m Model, cfg Config, ln net.Listener) *Running {
	r := &Running{srv: m.New(cfg), done: make(chan error, 1)}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r
}

// Done is closed with Serve's result if the server stops on its own.
func (r *Running) Done() <-chan error { return r.done }

// Stop shuts the server down gracefully, waiting at most timeout, and
// returns Serve's error, if any.
func (r *Running) Stop(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting the server down: %w", err)
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("server still serving %v after shutdown", timeout)
	}
}
