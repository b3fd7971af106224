package workloads

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Where a bursty request's latency goes (issue 13: the bimodal bands). The
// bursty workload wraps every connection it dials in a tracedConn, which
// sees each request leave (Write, vegeta's X-Vegeta-Seq header names it)
// and its response's first bytes come back (Read). With vegeta's own times
// (when a worker picked the hit up, when the body was read) that splits a
// request's latency from its intended send time into four parts:
//
//	late    the pacer's lateness: the hit was picked up after it was due
//	wait    picked up → written: a connection from the pool, or a dial
//	server  written → first response bytes read: loopback, the server, and
//	        the load's own wake-up to read them
//	read    first bytes → body read and handed to vegeta's worker
//
// and says which connection carried it, how many requests it had carried
// before (0: a new connection), how long it had been idle, and how many
// other requests were in flight when it was written. The hot path (Write,
// Read) stores into a slice sized before the run: no allocation.

// TraceHeader is the vegeta result header that carries a request's trace
// in the bursty workload's raw results (FormatTrace, ParseTrace).
const TraceHeader = "X-Poolbench-Trace"

// maxTraced caps the requests a run traces (64 bytes each); later ones
// are sent and counted, not traced.
const maxTraced = 1 << 20

// Trace is where one request's latency went; durations in nanoseconds.
type Trace struct {
	// Late is how long after its intended send time vegeta picked the hit up.
	Late int64
	// Wait is from then until the request was written to a connection.
	Wait int64
	// Server is from the write until the response's first bytes were read.
	Server int64
	// Read is from the first bytes until vegeta had read the body.
	Read int64
	// Conn numbers the connection in dial order, from 1.
	Conn int64
	// OnConn counts the requests the connection carried before this one:
	// 0 is a request on a new connection.
	OnConn int64
	// Idle is how long the connection had been idle (since its previous
	// response's last bytes); 0 on a new connection.
	Idle int64
	// InFlight counts the other requests written and not yet answered
	// when this one was written.
	InFlight int64
	// Sleep is how long the pacer asked to sleep before this hit (0: it
	// was due already); Late is then how far that sleep overshot.
	Sleep int64
}

// traceFields name Trace's fields in the header, in order.
var traceFields = []string{"late", "wait", "server", "read", "conn", "onconn", "idle", "inflight", "sleep"}

func (t *Trace) fields() []*int64 {
	return []*int64{&t.Late, &t.Wait, &t.Server, &t.Read, &t.Conn, &t.OnConn, &t.Idle, &t.InFlight, &t.Sleep}
}

// AppendTrace appends t as the header value "late=… wait=… …".
func AppendTrace(dst []byte, t Trace) []byte {
	for i, p := range t.fields() {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, traceFields[i]...)
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, *p, 10)
	}
	return dst
}

// ParseTrace reads a header value written by AppendTrace; every field must
// be present.
func ParseTrace(s string) (Trace, error) {
	var t Trace
	ps := t.fields()
	f := strings.Fields(s)
	if len(f) != len(ps) {
		return t, fmt.Errorf("trace %q: %d fields, want %d (%s)", s, len(f), len(ps), strings.Join(traceFields, ","))
	}
	for i, kv := range f {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != traceFields[i] {
			return t, fmt.Errorf("trace %q: field %d is %q, want %s=<n>", s, i+1, kv, traceFields[i])
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return t, fmt.Errorf("trace %q: %s=%q is not an integer", s, k, v)
		}
		*ps[i] = n
	}
	return t, nil
}

// reqRecord is what the connections record for one request, in ns since
// the tracer's start; atomic because the transport's write and read
// goroutines fill it and the result loop reads it.
type reqRecord struct {
	write, first, conn, onConn, idle, inFlight, sleep atomic.Int64
}

// tracer records the requests of one bursty run, indexed by vegeta's Seq.
type tracer struct {
	began    time.Time
	recs     []reqRecord
	conns    atomic.Int64
	inFlight atomic.Int64
	buf      []byte
}

func newTracer(began time.Time, requests uint64) *tracer {
	return &tracer{began: began, recs: make([]reqRecord, min(requests, maxTraced))}
}

func (tr *tracer) now() int64 { return int64(time.Since(tr.began)) }

// wrap traces the requests c carries.
func (tr *tracer) wrap(c net.Conn) net.Conn {
	return &tracedConn{Conn: c, tr: tr, id: tr.conns.Add(1)}
}

// trace is request seq's trace given vegeta's pick-up time and end time
// (ns since the tracer's start) and its intended send time; ok is false
// for a request the connections did not see.
func (tr *tracer) trace(seq uint64, intended, hit, done int64) (Trace, bool) {
	if seq >= uint64(len(tr.recs)) {
		return Trace{}, false
	}
	r := &tr.recs[seq]
	w, f := r.write.Load(), r.first.Load()
	if w == 0 || f == 0 {
		return Trace{}, false
	}
	return Trace{Late: hit - intended, Wait: w - hit, Server: f - w, Read: done - f,
		Conn: r.conn.Load(), OnConn: r.onConn.Load(), Idle: r.idle.Load(), InFlight: r.inFlight.Load(), Sleep: r.sleep.Load()}, true
}

// annotate adds request seq's trace to its vegeta result's headers.
func (tr *tracer) annotate(h http.Header, t Trace) http.Header {
	if h == nil {
		h = http.Header{}
	}
	tr.buf = AppendTrace(tr.buf[:0], t)
	h[TraceHeader] = []string{string(tr.buf)}
	return h
}

// tracedPacer notes how long the pacer asked to sleep before each hit.
// vegeta calls Pace once per hit, from one goroutine, with the hits sent
// so far; the hit's Seq is taken when a worker picks it up, in the same
// order unless two workers race for consecutive hits.
type tracedPacer struct {
	stopAfter
	tr *tracer
}

var _ vegeta.Pacer = tracedPacer{}

// Pace implements vegeta.Pacer.
func (p tracedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	wait, stop := p.stopAfter.Pace(elapsed, hits)
	if !stop && hits < uint64(len(p.tr.recs)) {
		p.tr.recs[hits].sleep.Store(int64(wait))
	}
	return wait, stop
}

// tracedConn is one traced client connection. HTTP/1.1 without
// pipelining: one request at a time, so the response read next belongs
// to the request written last.
type tracedConn struct {
	net.Conn
	tr      *tracer
	id      int64
	n       int64        // requests written so far (writer goroutine only)
	pending atomic.Int64 // seq+1 of the request awaiting its first bytes
	last    atomic.Int64 // when the last response bytes were read
}

var seqHeader = []byte("\r\nX-Vegeta-Seq: ")

// Write notes the request's seq, time, connection and idle time before
// writing it.
func (c *tracedConn) Write(p []byte) (int, error) {
	if seq, ok := seqOf(p); ok && seq < uint64(len(c.tr.recs)) {
		now := c.tr.now()
		r := &c.tr.recs[seq]
		r.conn.Store(c.id)
		r.onConn.Store(c.n)
		if c.n > 0 {
			r.idle.Store(now - c.last.Load())
		}
		r.inFlight.Store(c.tr.inFlight.Add(1) - 1)
		r.write.Store(now)
		c.n++
		c.pending.Store(int64(seq) + 1)
	}
	return c.Conn.Write(p)
}

// Read notes when the first bytes of the pending request's response came.
func (c *tracedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		now := c.tr.now()
		if s := c.pending.Swap(0); s != 0 {
			c.tr.recs[s-1].first.Store(now)
			c.tr.inFlight.Add(-1)
		}
		c.last.Store(now)
	}
	return n, err
}

// Close drops a request left unanswered from the in-flight count.
func (c *tracedConn) Close() error {
	if c.pending.Swap(0) != 0 {
		c.tr.inFlight.Add(-1)
	}
	return c.Conn.Close()
}

// seqOf finds vegeta's X-Vegeta-Seq header in a request's bytes.
func seqOf(p []byte) (uint64, bool) {
	i := bytes.Index(p, seqHeader)
	if i < 0 {
		return 0, false
	}
	var seq uint64
	digits := 0
	for _, b := range p[i+len(seqHeader):] {
		if b < '0' || b > '9' {
			break
		}
		seq = seq*10 + uint64(b-'0')
		digits++
	}
	return seq, digits > 0
}
