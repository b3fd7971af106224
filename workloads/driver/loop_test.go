package driver

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// loopCounts is what a Loop run reported through its LoopFuncs.
type loopCounts struct {
	budget                int
	ok, framing, timeouts int
	other                 []error
	dials                 int
}

// funcs counts like the keepalive workload: a budget of requests, check
// errors other than framing keep the connection, the rest replace it.
func (lc *loopCounts) funcs(dial func() (net.Conn, error)) LoopFuncs {
	return LoopFuncs{
		Next: func() bool {
			lc.budget--
			return lc.budget >= 0
		},
		Done: func(err error, began time.Time) bool {
			switch {
			case err == nil:
				lc.ok++
				return false
			case errors.Is(err, ErrFraming):
				lc.framing++
			case errors.Is(err, os.ErrDeadlineExceeded):
				lc.timeouts++
			default:
				lc.other = append(lc.other, err)
			}
			return true
		},
		Dial: func() (net.Conn, error) {
			lc.dials++
			return dial()
		},
	}
}

// dialN dials addr n times.
func dialN(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = nc
	}
	return conns
}

// procCounts returns this process's read and write system calls so far.
func procCounts(t *testing.T) (reads, writes int64) {
	return procStat(t, "syscr: "), procStat(t, "syscw: ")
}

// TestLoopSyscallsAndAllocs guards the Loop's promise: per round trip one
// read and one write system call and no allocation, counted by the
// kernel and the runtime over many requests against a server in another
// process.
func TestLoopSyscallsAndAllocs(t *testing.T) {
	const conns, n = 8, 4000
	addr := startServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	l, err := NewLoop(dialN(t, addr, conns), NewGET("x", "/", 200, 5))
	if err != nil {
		t.Fatal(err)
	}
	lc := &loopCounts{budget: n}
	f := lc.funcs(func() (net.Conn, error) { return net.Dial("tcp4", addr) })
	var m0, m1 runtime.MemStats
	r0, w0 := procCounts(t)
	runtime.ReadMemStats(&m0)
	l.Run(f)
	runtime.ReadMemStats(&m1)
	r1, w1 := procCounts(t)
	if lc.ok != n || lc.dials != 0 {
		t.Fatalf("ok=%d framing=%d timeouts=%d other=%v dials=%d, want %d ok on the first connections", lc.ok, lc.framing, lc.timeouts, lc.other, lc.dials, n)
	}
	reads, writes := float64(r1-r0)/n, float64(w1-w0)/n
	t.Logf("per request: %.3f reads, %.3f writes, %.4f allocations", reads, writes, float64(m1.Mallocs-m0.Mallocs)/n)
	if reads > 1.2 || writes > 1.2 {
		t.Errorf("%.2f read and %.2f write system calls per request, want at most 1.2 of each", reads, writes)
	}
	if allocs := m1.Mallocs - m0.Mallocs; allocs > n/200 {
		t.Errorf("%d allocations for %d requests, want at most %d: the loop allocates per request", allocs, n, n/200)
	}
}

// serveEach accepts connections on loopback and runs handle on each, with
// the connection's index.
func serveEach(t *testing.T, handle func(i int, nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				handle(i, nc)
			}()
		}
	}()
	return ln.Addr().String()
}

// answer reads a request on nc and writes resp; it reports whether both
// worked.
func answer(nc net.Conn, resp string) bool {
	buf := make([]byte, 4096)
	if _, err := nc.Read(buf); err != nil {
		return false
	}
	_, err := io.WriteString(nc, resp)
	return err == nil
}

// The Loop tests run one at a time: a Loop blocks its P while it waits,
// and the servers here share the process.

func TestLoopReplacesConnections(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	tests := []struct {
		name   string
		conns  int
		handle func(i int, nc net.Conn)
		want   loopCounts
	}{
		{"server_asks_to_close", 1, func(_ int, nc net.Conn) {
			answer(nc, ok)
			answer(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
		}, loopCounts{ok: 60, dials: 30}},
		{"server_closes_mid_response", 2, func(i int, nc net.Conn) {
			if i == 0 {
				answer(nc, "HTTP/1.1 200 OK\r\nContent-Len")
				return
			}
			for answer(nc, ok) {
			}
		}, loopCounts{ok: 59, framing: 1, dials: 1}},
		{"head_split_across_reads", 2, func(_ int, nc net.Conn) {
			for answer(nc, "HTTP/1.1 200 OK\r\nContent-") {
				time.Sleep(time.Millisecond)
				if _, err := io.WriteString(nc, "Length: 5\r\n\r\nhel"); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
				if _, err := io.WriteString(nc, "lo"); err != nil {
					return
				}
			}
		}, loopCounts{ok: 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveEach(t, tt.handle)
			l, err := NewLoop(dialN(t, addr, tt.conns), NewGET("x", "/", 200, 5))
			if err != nil {
				t.Fatal(err)
			}
			lc := &loopCounts{budget: 60}
			l.Run(lc.funcs(func() (net.Conn, error) { return net.Dial("tcp4", addr) }))
			got := *lc
			got.budget = 0
			if got.ok != tt.want.ok || got.framing != tt.want.framing || got.timeouts != 0 || got.other != nil || got.dials != tt.want.dials {
				t.Fatalf("ok=%d framing=%d timeouts=%d other=%v dials=%d; want ok=%d framing=%d dials=%d", got.ok, got.framing, got.timeouts, got.other, got.dials, tt.want.ok, tt.want.framing, tt.want.dials)
			}
		})
	}
}

func TestLoopTimesOut(t *testing.T) {
	silent := make(chan struct{})
	t.Cleanup(func() { close(silent) })
	addr := serveEach(t, func(i int, nc net.Conn) {
		if i == 0 {
			<-silent // the first connection never gets an answer
			return
		}
		for answer(nc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") {
		}
	})
	l, err := NewLoop(dialN(t, addr, 1), NewGET("x", "/", 200, 5))
	if err != nil {
		t.Fatal(err)
	}
	l.timeout = 200 * time.Millisecond
	lc := &loopCounts{budget: 5}
	l.Run(lc.funcs(func() (net.Conn, error) { return net.Dial("tcp4", addr) }))
	if lc.timeouts != 1 || lc.ok != 4 || lc.dials != 1 || lc.framing != 0 || lc.other != nil {
		t.Fatalf("timeouts=%d ok=%d dials=%d framing=%d other=%v; want 1 timeout, then 4 ok on 1 new connection", lc.timeouts, lc.ok, lc.dials, lc.framing, lc.other)
	}
}
