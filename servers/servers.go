// Package servers holds the HTTP server models poolbench compares: fasthttp's
// worker pool, which reuses goroutines across connections, and net/http's
// goroutine per connection. Both serve the same app.Handler behind the Server
// interface; Models is the explicit registry of them.
package servers

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

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
}

// Models is the registry of server models, in the order cells run.
var Models = []Model{
	{Name: "fasthttp", Doc: "fasthttp.Server: a pool of worker goroutines reused across connections", New: newFastHTTP},
	{Name: "nethttp", Doc: "net/http.Server: one goroutine per connection", New: newNetHTTP},
}

// Names returns the registered model names.
func Names() []string {
	names := make([]string, len(Models))
	for i, m := range Models {
		names[i] = m.Name
	}
	return names
}

// Lookup returns the model registered under name.
func Lookup(name string) (Model, error) {
	for _, m := range Models {
		if m.Name == name {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("unknown server model %q: want one of %s", name, strings.Join(Names(), ", "))
}

// ParseModels parses a comma-separated list of model names; "" or "all" is every model.
func ParseModels(s string) ([]Model, error) {
	if s == "" || s == "all" {
		return Models, nil
	}
	var out []Model
	for _, name := range strings.Split(s, ",") {
		m, err := Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
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
