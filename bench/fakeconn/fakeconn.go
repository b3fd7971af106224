// Package fakeconn serves requests replayed from memory through a fake
// listener and fake connections, the way fasthttp's own
// server_timing_test.go measures servers: no kernel, no client. Each
// connection hands the server K copies of one pre-encoded request (as fast as
// the server reads, so requests arrive pipelined), discards what the server
// writes while counting complete responses, and reads EOF after its K-th
// request. K=1 is the short-lived shape (fasthttp's Get1ReqPerConn), K=10000
// the keep-alive one (Get10KReqPerConn).
package fakeconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Plan is what a fake listener replays.
type Plan struct {
	// Request is one encoded HTTP/1.1 request; every connection sends copies of it.
	Request []byte
	// Status is the status every response must have.
	Status int
	// Conns is how many connections are open at once.
	Conns int
	// RequestsPerConn is K: the requests each connection sends before EOF
	// (the last connection may send fewer).
	RequestsPerConn int
	// Requests is N, the requests sent over all connections.
	Requests int
}

// Validate reports a plan that cannot run.
func (p Plan) Validate() error {
	switch {
	case len(p.Request) == 0:
		return errors.New("fakeconn: empty request")
	case p.Status < 100 || p.Status > 999:
		return fmt.Errorf("fakeconn: status %d: want a 3-digit HTTP status, e.g. 200", p.Status)
	case p.Conns < 1:
		return fmt.Errorf("fakeconn: conns %d: want ≥ 1", p.Conns)
	case p.RequestsPerConn < 1:
		return fmt.Errorf("fakeconn: requests per connection %d: want ≥ 1", p.RequestsPerConn)
	case p.Requests < 1:
		return fmt.Errorf("fakeconn: requests %d: want ≥ 1", p.Requests)
	}
	return nil
}

// Counts is what a listener's connections saw.
type Counts struct {
	// Requests were handed to the server; Responses came back complete.
	Requests, Responses int64
	// Conns were accepted and closed by the server.
	Conns int64
	// Errors counts connections that broke the plan: a malformed or
	// unexpected response, or a close before every request was answered.
	Errors int64
	// FirstError describes the first of them.
	FirstError error
}

// addr is the fake address of both ends: loopback, never dialed.
var addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// Listener is a net.Listener whose connections replay a Plan. Accept blocks
// while Conns connections are open; once every connection has been handed
// out it blocks until Close. Done is closed when the server has closed them
// all.
type Listener struct {
	plan  Plan
	free  chan *conn // connections not in use; Conns of them, and nil once closed
	done  chan struct{}
	close chan struct{}

	// served registers every complete response, as fasthttp's suite's
	// handler registers every request it serves: the tally of responses,
	// and the same fixed cost per request in both harnesses (a channel
	// send, ~25 ns: without it make fakeconn-check put keep-alive's
	// net/http ÷ fasthttp 5–12% above the suite's, with it 3–4%). Its
	// capacity is Requests; a response more is an error.
	served chan struct{}

	mu        sync.Mutex
	remaining int // requests not yet given to a connection
	accepted  int64
	closeOnce sync.Once
	isClosed  atomic.Bool
	counts    Counts
}

var _ net.Listener = (*Listener)(nil)

// NewListener returns a listener replaying p.
func NewListener(p Plan) (*Listener, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ln := &Listener{
		plan:      p,
		free:      make(chan *conn, p.Conns+1), // and Close's nil
		done:      make(chan struct{}),
		close:     make(chan struct{}),
		served:    make(chan struct{}, p.Requests),
		remaining: p.Requests,
	}
	for range p.Conns {
		ln.free <- &conn{ln: ln}
	}
	return ln, nil
}

// Accept hands out the next connection, waiting for a free one with one
// channel receive, as fasthttp's own fake listener does (a select on two
// channels costs more, and shortlived pays it once per request).
func (ln *Listener) Accept() (net.Conn, error) {
	if ln.isClosed.Load() {
		return nil, net.ErrClosed
	}
	c := <-ln.free
	if c == nil || ln.isClosed.Load() { // Close's wake-up, or closed while waiting
		if c != nil {
			ln.free <- c
		}
		return nil, net.ErrClosed
	}
	ln.mu.Lock()
	k := min(ln.plan.RequestsPerConn, ln.remaining)
	ln.remaining -= k
	if k > 0 {
		ln.accepted++
	}
	ln.mu.Unlock()
	if k == 0 {
		ln.free <- c
		<-ln.close
		return nil, net.ErrClosed
	}
	c.reset(k)
	return c, nil
}

// Close makes Accept return net.ErrClosed, waking one that waits for a free
// connection with a nil one.
func (ln *Listener) Close() error {
	ln.closeOnce.Do(func() {
		ln.isClosed.Store(true)
		close(ln.close)
		select {
		case ln.free <- nil: // room: free holds Conns connections and this one nil
		default:
		}
	})
	return nil
}

// Addr returns a loopback address that is never dialed.
func (ln *Listener) Addr() net.Addr { return addr }

// Done is closed once every request has been handed out and the server has
// closed every connection.
func (ln *Listener) Done() <-chan struct{} { return ln.done }

// Counts returns what the connections saw so far.
func (ln *Listener) Counts() Counts {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	c := ln.counts
	c.Responses = int64(len(ln.served))
	return c
}

// closed records a connection the server closed and frees its slot.
func (ln *Listener) closed(c *conn) {
	ln.mu.Lock()
	ln.counts.Requests += int64(c.sent)
	ln.counts.Conns++
	err := c.resp.err
	if err == nil && c.resp.responses != int64(c.sent) {
		err = fmt.Errorf("connection closed after %d responses to %d requests", c.resp.responses, c.sent)
	}
	if err != nil {
		ln.counts.Errors++
		if ln.counts.FirstError == nil {
			ln.counts.FirstError = err
		}
	}
	last := ln.remaining == 0 && ln.counts.Conns == ln.accepted
	ln.mu.Unlock()
	ln.free <- c
	if last {
		close(ln.done)
	}
}

// conn is one fake connection. The server reads and writes it from one
// goroutine at a time, as net/http and fasthttp do.
type conn struct {
	ln     *Listener
	k      int // requests this connection sends
	sent   int // requests fully handed to the server
	pos    int // offset in the current copy of the request
	resp   counter
	closed atomic.Bool
}

var _ net.Conn = (*conn)(nil)

func (c *conn) reset(k int) {
	c.k, c.sent, c.pos = k, 0, 0
	c.resp.reset(c.ln.plan.Status, c.ln.served)
	c.closed.Store(false)
}

// Read fills b with as much of the remaining requests as fits, so the
// server finds them pipelined; after the K-th it returns io.EOF.
func (c *conn) Read(b []byte) (int, error) {
	req := c.ln.plan.Request
	n := 0
	for len(b) > 0 && c.sent < c.k {
		m := copy(b, req[c.pos:])
		b, n, c.pos = b[m:], n+m, c.pos+m
		if c.pos == len(req) {
			c.pos = 0
			c.sent++
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write discards b, counting the complete responses in it.
func (c *conn) Write(b []byte) (int, error) {
	c.resp.write(b)
	return len(b), nil
}

// Close returns the connection to the listener once.
func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.ln.closed(c)
	}
	return nil
}

func (c *conn) LocalAddr() net.Addr                { return addr }
func (c *conn) RemoteAddr() net.Addr               { return addr }
func (c *conn) SetDeadline(t time.Time) error      { return nil }
func (c *conn) SetReadDeadline(t time.Time) error  { return nil }
func (c *conn) SetWriteDeadline(t time.Time) error { return nil }

// counter counts complete HTTP/1.1 responses in a byte stream framed by
// Content-Length, however the writes split them.
type counter struct {
	status    int
	responses int64
	body      int    // body bytes of the current response still to come
	inBody    bool   // the current response's header has been read
	hdr       []byte // a header split across writes, carried over
	err       error
	served    chan<- struct{} // if not nil, registers every complete response
	// last is the last header parsed in full and lastBody its body length.
	// A header byte-identical to it is counted without parsing it again:
	// a server answers a replayed request with the same header but for
	// Date, which changes once a second. This keeps the check's cost per
	// response near that of fasthttp's fake conn, whose Write discards.
	last     []byte
	lastBody int
}

// maxHeader bounds a carried-over response header.
const maxHeader = 64 << 10

var headerEnd = []byte("\r\n\r\n")

func (r *counter) reset(status int, served chan<- struct{}) {
	if status != r.status {
		r.last = r.last[:0]
	}
	r.status, r.responses, r.body, r.inBody, r.hdr, r.err = status, 0, 0, false, r.hdr[:0], nil
	r.served = served
}

// complete counts a complete response and registers it.
func (r *counter) complete() {
	r.responses++
	if r.served == nil {
		return
	}
	select {
	case r.served <- struct{}{}:
	default:
		r.err = fmt.Errorf("more than %d responses in all", cap(r.served))
	}
}

func (r *counter) write(b []byte) {
	for len(b) > 0 && r.err == nil {
		if r.inBody {
			n := min(len(b), r.body)
			b, r.body = b[n:], r.body-n
			if r.body == 0 {
				r.inBody = false
				r.complete()
			}
			continue
		}
		if len(r.hdr) == 0 {
			if n := len(r.last); n > 0 && len(b) >= n && bytes.Equal(b[:n], r.last) {
				b = b[n:]
				r.start(r.lastBody)
				continue
			}
			if i := bytes.Index(b, headerEnd); i >= 0 {
				r.header(b[:i+len(headerEnd)])
				b = b[i+len(headerEnd):]
				continue
			}
		}
		carried := len(r.hdr)
		r.hdr = append(r.hdr, b...)
		i := bytes.Index(r.hdr, headerEnd)
		if i < 0 {
			if len(r.hdr) > maxHeader {
				r.err = fmt.Errorf("response header longer than %d bytes", maxHeader)
			}
			return
		}
		r.header(r.hdr[:i+len(headerEnd)])
		b = b[i+len(headerEnd)-carried:]
		r.hdr = r.hdr[:0]
	}
}

var contentLength = []byte("content-length:")

// header parses one complete response header and starts its body.
func (r *counter) header(h []byte) {
	// "HTTP/1.1 200 OK\r\n"
	if len(h) < 12 || !bytes.HasPrefix(h, []byte("HTTP/1.")) || h[8] != ' ' {
		r.err = fmt.Errorf("bad status line in %q", firstLine(h))
		return
	}
	st := 0
	for _, d := range h[9:12] {
		if d < '0' || d > '9' {
			r.err = fmt.Errorf("bad status code in %q", firstLine(h))
			return
		}
		st = st*10 + int(d-'0')
	}
	if st != r.status {
		r.err = fmt.Errorf("status %d, want %d", st, r.status)
		return
	}
	n := -1
	for rest := h[bytes.IndexByte(h, '\n')+1:]; len(rest) > 2; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			n = parseLength(line[len(contentLength):])
			if n < 0 {
				r.err = fmt.Errorf("bad Content-Length line %q", line)
				return
			}
		}
	}
	if n < 0 {
		r.err = fmt.Errorf("response without Content-Length: %q", firstLine(h))
		return
	}
	r.last, r.lastBody = append(r.last[:0], h...), n
	r.start(n)
}

// start begins a response whose header announced n body bytes.
func (r *counter) start(n int) {
	if n == 0 {
		r.complete()
		return
	}
	r.body, r.inBody = n, true
}

func firstLine(h []byte) []byte {
	if i := bytes.IndexByte(h, '\r'); i >= 0 {
		return h[:i]
	}
	return h
}

// parseLength parses a Content-Length value with surrounding spaces; -1 if malformed.
func parseLength(b []byte) int {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 12 {
		return -1
	}
	n := 0
	for _, d := range b {
		if d < '0' || d > '9' {
			return -1
		}
		n = n*10 + int(d-'0')
	}
	return n
}
