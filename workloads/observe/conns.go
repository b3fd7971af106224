package observe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conns counts what happens to the connections of one side: opened (dials
// on a client, accepts on a server), uses (a request sent on a client, read
// on a server; the first on a connection is its first use, later ones are
// reuse), and closes, split by which side closed first: a Close after the
// peer's FIN was read (EOF) is the peer's close.
type Conns struct {
	// Server marks the server side: a use begins with a read, not a write.
	Server bool

	opened, uses, reuses, closedHere, closedByPeer, deadReuses atomic.Int64
	lastWrite                                                  atomic.Int64
}

// LastWrite is when this side last wrote to any of its connections (for a
// server, the end of its last response: where its idle timer starts).
func (c *Conns) LastWrite() time.Time { return time.Unix(0, c.lastWrite.Load()) }

// ConnCounts is a Conns' totals.
type ConnCounts struct {
	// Opened is dials (client) or accepts (server).
	Opened int64 `json:"opened"`
	// Uses is requests on a connection; Reuses those that were not its first.
	Uses   int64 `json:"uses"`
	Reuses int64 `json:"reuses"`
	// ClosedHere: closed by this side first; ClosedByPeer: after the
	// peer's FIN (this side saw EOF first).
	ClosedHere   int64 `json:"closed_here"`
	ClosedByPeer int64 `json:"closed_by_peer"`
	// DeadReuses: reuses of a connection the peer had already closed (the
	// read after the request got EOF with no response byte): the CLOSE_WAIT
	// socket taken from the pool.
	DeadReuses int64 `json:"dead_reuses"`
}

// Counts returns the totals so far.
func (c *Conns) Counts() ConnCounts {
	return ConnCounts{Opened: c.opened.Load(), Uses: c.uses.Load(), Reuses: c.reuses.Load(),
		ClosedHere: c.closedHere.Load(), ClosedByPeer: c.closedByPeer.Load(), DeadReuses: c.deadReuses.Load()}
}

// Dialer wraps dial so that every connection it makes is counted.
func (c *Conns) Dialer(dial func() (net.Conn, error)) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		nc, err := dial()
		if err != nil {
			return nil, err
		}
		return c.Wrap(nc), nil
	}
}

// Listener wraps ln so that every connection it accepts is counted (set
// Server first).
func (c *Conns) Listener(ln net.Listener) net.Listener { return &listener{ln, c} }

type listener struct {
	net.Listener
	c *Conns
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.c.Wrap(nc), nil
}

// Wrap counts nc as opened and returns it wrapped.
func (c *Conns) Wrap(nc net.Conn) net.Conn {
	c.opened.Add(1)
	return &conn{Conn: nc, c: c}
}

type conn struct {
	net.Conn
	c *Conns

	mu sync.Mutex
	// lastWrite: the last I/O was a write (client: a request is out).
	lastWrite, used, eof, closed, gotByte bool
	useStartedReuse                       bool
}

// begin records a use starting.
func (k *conn) begin() {
	k.c.uses.Add(1)
	k.useStartedReuse = k.used
	if k.used {
		k.c.reuses.Add(1)
	}
	k.used, k.gotByte = true, false
}

func (k *conn) Write(p []byte) (int, error) {
	k.mu.Lock()
	if !k.c.Server && !k.lastWrite {
		k.begin()
	}
	k.lastWrite = true
	k.mu.Unlock()
	n, err := k.Conn.Write(p)
	k.c.lastWrite.Store(time.Now().UnixNano())
	return n, err
}

func (k *conn) Read(p []byte) (int, error) {
	n, err := k.Conn.Read(p)
	k.mu.Lock()
	defer k.mu.Unlock()
	if n > 0 {
		if k.c.Server && k.lastWrite || k.c.Server && !k.used {
			k.begin()
		}
		k.lastWrite, k.gotByte = false, true
	}
	peerGone := errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	if peerGone && !k.eof {
		k.eof = true
		if !k.c.Server && k.lastWrite && !k.gotByte && k.useStartedReuse {
			k.c.deadReuses.Add(1)
		}
	}
	return n, err
}

func (k *conn) Close() error {
	k.mu.Lock()
	if !k.closed {
		k.closed = true
		if k.eof {
			k.c.closedByPeer.Add(1)
		} else {
			k.c.closedHere.Add(1)
		}
	}
	k.mu.Unlock()
	return k.Conn.Close()
}

// Trace counts net/http's connection reuse through httptrace.GotConn.
type Trace struct {
	got, reused, wasIdle atomic.Int64
	maxIdle              atomic.Int64
}

// TraceCounts is a Trace's totals.
type TraceCounts struct {
	// Got is connections obtained, one per request attempt; Reused those
	// that had served a request before; WasIdle those taken from the idle
	// pool (as opposed to handed over by a request finishing, or new).
	Got     int64 `json:"got"`
	Reused  int64 `json:"reused"`
	WasIdle int64 `json:"was_idle"`
	// MaxIdle is the longest a reused connection had sat idle.
	MaxIdle time.Duration `json:"max_idle_ns"`
}

// Counts returns the totals so far.
func (t *Trace) Counts() TraceCounts {
	return TraceCounts{Got: t.got.Load(), Reused: t.reused.Load(), WasIdle: t.wasIdle.Load(), MaxIdle: time.Duration(t.maxIdle.Load())}
}

// Context returns ctx with t's ClientTrace attached.
func (t *Trace) Context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		t.got.Add(1)
		if i.Reused {
			t.reused.Add(1)
		}
		if i.WasIdle {
			t.wasIdle.Add(1)
			for {
				m := t.maxIdle.Load()
				if int64(i.IdleTime) <= m || t.maxIdle.CompareAndSwap(m, int64(i.IdleTime)) {
					break
				}
			}
		}
	}})
}

// Handlers counts what a server's handler saw: requests served, the peak
// of handlers running at once, and requests whose id (RequestID header)
// had been seen before — a retried non-idempotent request ran twice.
type Handlers struct {
	served, running, peak, dups atomic.Int64
	ids                         sync.Map
}

// RequestID is the header a client sets so the server can count duplicates.
const RequestID = "X-Request-Id"

// HandlerCounts is a Handlers' totals.
type HandlerCounts struct {
	Served     int64 `json:"served"`
	Peak       int64 `json:"peak_handlers"`
	Duplicates int64 `json:"duplicates"`
}

// Counts returns the totals so far.
func (h *Handlers) Counts() HandlerCounts {
	return HandlerCounts{Served: h.served.Load(), Peak: h.peak.Load(), Duplicates: h.dups.Load()}
}

// Running is the number of handlers running now.
func (h *Handlers) Running() int64 { return h.running.Load() }

// Enter records a handler starting for a request with id (empty: no id)
// and returns the function that records its end.
func (h *Handlers) Enter(id string) (exit func()) {
	n := h.running.Add(1)
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if id != "" {
		if _, seen := h.ids.LoadOrStore(id, struct{}{}); seen {
			h.dups.Add(1)
		}
	}
	return func() {
		h.running.Add(-1)
		h.served.Add(1)
	}
}
