//go:build !race

package driver

import (
	"net"
	"testing"
)

// roundTripAllocs returns the allocations per RoundTrip of a 5-byte
// response on c.
func roundTripAllocs(t *testing.T, c *Conn) float64 {
	t.Helper()
	req := NewGET("x", "/", 200, 5)
	var rtErr error
	n := testing.AllocsPerRun(1000, func() {
		if err := c.RoundTrip(req); err != nil {
			rtErr = err
		}
	})
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return n
}

// TestRoundTripAllocs guards the driver's promise: no allocations per
// request on a keep-alive connection in steady state.
func TestRoundTripAllocs(t *testing.T) {
	c := serveCanned(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
	c.keepBody = false
	if n := roundTripAllocs(t, c); n != 0 {
		t.Fatalf("RoundTrip allocates %.1f objects per request, want 0", n)
	}
}

// TestRoundTripAllocsTCP is TestRoundTripAllocs on a loopback TCP
// connection.
func TestRoundTripAllocsTCP(t *testing.T) {
	nc, err := net.Dial("tcp4", startServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc, false)
	defer c.CloseConn()
	if n := roundTripAllocs(t, c); n != 0 {
		t.Fatalf("RoundTrip over TCP allocates %.1f objects per request, want 0", n)
	}
}
