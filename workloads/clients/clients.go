// Package clients holds the HTTP client models poolbench compares against
// the same server: fasthttp's Client and HostClient, and net/http's
// Transport with its default and with tuned pool settings. Models is the
// explicit registry; every model dials through the Dialer it is given, so
// dials are counted exactly (GotConn.Reused undercounts).
package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
)

// Model is one row of the registry.
type Model struct {
	// Name is the cell value, e.g. "nethttp_default".
	Name string
	// Doc says in one line what the model is.
	Doc string
	// New builds a client for conns concurrent callers.
	New func(dial workloads.Dialer, conns int) workloads.HTTPClient
}

// Models is the registry of client models.
var Models = []Model{
	{Name: "fasthttp", Doc: "fasthttp.Client: a HostClient per host, MaxConnsPerHost 512", New: newFastHTTP},
	{Name: "fasthttp_host", Doc: "fasthttp.HostClient for one host, MaxConns = conns", New: newFastHTTPHost},
	{Name: "nethttp_default", Doc: "net/http Transport with DefaultTransport's settings: MaxIdleConnsPerHost 2", New: newNetHTTPDefault},
	{Name: "nethttp_tuned", Doc: "net/http Transport with MaxIdleConns and MaxIdleConnsPerHost = conns", New: newNetHTTPTuned},
}

// Lookup returns the model registered under name.
func Lookup(name string) (Model, error) {
	names := make([]string, len(Models))
	for i, m := range Models {
		if m.Name == name {
			return m, nil
		}
		names[i] = m.Name
	}
	return Model{}, fmt.Errorf("unknown client model %q: want one of %s", name, strings.Join(names, ", "))
}

// Load is the closed-loop keep-alive workload through model m.
func (m Model) Load() workloads.ClientLoad {
	return workloads.ClientLoad{Client: m.Name, New: m.New, Kind: Kind}
}

// Kind classifies a client error: no_free_conns, port_exhaustion
// (EADDRNOTAVAIL: no local port left to connect from), timeout,
// conn_closed, dial, or "" for anything else.
func Kind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "port_exhaustion"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	case errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(err.Error(), "server closed idle connection"),
		strings.Contains(err.Error(), "connection reset by peer"),
		strings.Contains(err.Error(), "broken pipe"):
		return "conn_closed"
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, fasthttp.ErrDialTimeout), strings.Contains(err.Error(), "dial"):
		return "dial"
	}
	return ""
}
