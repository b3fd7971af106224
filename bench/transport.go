package bench

import (
	"fmt"
	"net"
	"testing"

	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/workloads"
)

// Transport is how the in-process client reaches the server.
type Transport struct {
	// Name is the cell value.
	Name string
	// Listen returns a listener for the server and a dialer for the client.
	Listen func() (net.Listener, workloads.Dialer, error)
	// Drive, if set, runs the whole cell instead: the transport drives the
	// load itself (fakeconn replays requests from memory) and must serve
	// exactly b.N requests, checked. Listen is then unused.
	Drive func(b *testing.B, c Cell)
	// AllOnOnly runs only the handler with every switch on: the transport
	// cross-checks the harness or the layers, not the techniques, which
	// inmem measures in-process (least diluted by the kernel) and the
	// process layer's variant cells measure over the wire.
	AllOnOnly bool
}

// Transports is the registry of transports.
var Transports = registry.New("transport", func(t Transport) string { return t.Name },
	Transport{Name: "inmem", Listen: listenInmem},
	Transport{Name: "tcp", Listen: listenTCP, AllOnOnly: true},
	Transport{Name: "fakeconn", Drive: driveFakeconn, AllOnOnly: true}, // transport_fakeconn.go
)

// listenInmem connects client and server through in-memory pipes: no kernel,
// as in fasthttp's own server_timing_test.go.
func listenInmem() (net.Listener, workloads.Dialer, error) {
	ln := fasthttputil.NewInmemoryListener()
	return ln, ln.Dial, nil
}

// listenTCP listens on a free loopback port.
func listenTCP() (net.Listener, workloads.Dialer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listening on loopback: %w", err)
	}
	addr := ln.Addr().String()
	return ln, func() (net.Conn, error) { return net.Dial("tcp4", addr) }, nil
}
