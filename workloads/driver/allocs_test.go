//go:build !race

package driver

import "testing"

// TestRoundTripAllocs guards the driver's promise: no allocations per
// request on a keep-alive connection in steady state.
func TestRoundTripAllocs(t *testing.T) {
	c := serveCanned(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
	c.keepBody = false
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
	if n != 0 {
		t.Fatalf("RoundTrip allocates %.1f objects per request, want 0", n)
	}
}
