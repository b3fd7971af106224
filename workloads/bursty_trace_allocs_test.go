//go:build !race

package workloads

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// TestTracedConnAllocs guards the trace's promise: noting a request's
// write and its response's first bytes allocates nothing.
func TestTracedConnAllocs(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	tr := newTracer(time.Now(), 2000)
	c := tr.wrap(client)
	defer c.Close()
	go io.Copy(server, server) //nolint:errcheck // echo: the "response" is the request
	reqs := make([][]byte, len(tr.recs))
	for i := range reqs {
		reqs[i] = []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Vegeta-Seq: " + strconv.Itoa(i) + "\r\n\r\n")
	}
	buf := make([]byte, 256)
	i := 0
	var ioErr error
	n := testing.AllocsPerRun(1000, func() {
		if _, err := c.Write(reqs[i]); err != nil {
			ioErr = err
		}
		if _, err := io.ReadFull(c, buf[:len(reqs[i])]); err != nil {
			ioErr = err
		}
		i++
	})
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	if n != 0 {
		t.Errorf("%.1f allocations per traced request, want 0", n)
	}
	if r := &tr.recs[5]; r.write.Load() == 0 || r.first.Load() == 0 || r.onConn.Load() != 5 {
		t.Errorf("request 5 not traced: write %d first %d onConn %d", r.write.Load(), r.first.Load(), r.onConn.Load())
	}
}
