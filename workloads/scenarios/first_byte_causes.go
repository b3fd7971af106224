//go:build !fasthttp_old

package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/observe"
)

// FirstByteCauses walks the causes of fasthttp's "the server closed
// connection before returning the first response byte" for a
// non-idempotent POST, which fasthttp does not retry by default: the
// client writes the request on a pooled connection the server has already
// closed (its FIN read by nobody: fasthttp has no background reader), and
// the read gets EOF. A server restart and a server that closes after a
// response without saying so both produce it; a server that announces the
// close (Connection: close, MaxRequestsPerConn), the client's own
// MaxConnDuration and SetConnectionClose rotate connections cleanly; a
// server over its Concurrency answers a new connection with a 503 (and
// Connection: close) before reading the request. Each row says whether the
// caller saw an error, how many requests went out on a dead pooled
// connection (observe's DeadReuses), and who closed the connections.
type FirstByteCauses struct{}

var _ Scenario = FirstByteCauses{}

// Name implements Scenario.
func (FirstByteCauses) Name() string { return "first_byte_causes" }

// Problem implements Scenario.
func (FirstByteCauses) Problem() string {
	return "a fasthttp POST (not retried by default) on a pooled connection the server closed — a server restart, or a close after a response without Connection: close — fails with \"the server closed connection before returning the first response byte\"; a server over its Concurrency answers 503"
}

// Fix implements Scenario.
func (FirstByteCauses) Fix() string {
	return "per cause: RetryIfErr on the connection-closed error with an idempotency key the server deduplicates (restarts); Connection: close on every response the server closes after; client MaxConns ≤ server Concurrency with MaxConnWaitTimeout"
}

// fbRequests is the POSTs per row, one at a time; fbGap the pause between
// them in the rotation rows.
const (
	fbRequests = 6
	fbGap      = 20 * time.Millisecond
)

// fbCase is one row: what the server and the client do.
type fbCase struct {
	role, desc string
	// restart: the server restarts before every other request.
	restart bool
	// drop closes the connection after each response without a
	// Connection: close header; announce closes it with one.
	drop, announce bool
	// overload: server Concurrency 1, a held request on the only
	// connection, the measured POST on a second one.
	overload bool
	// retry retries the connection-closed error (with dedup on the server).
	retry bool
	// connClose: the client sends Connection: close.
	connClose bool
	// maxConnDuration (client), maxReqs (server MaxRequestsPerConn),
	// maxConns with a wait (client).
	maxConnDuration time.Duration
	maxReqs         int
	maxConns        int
}

// fbCases are the rows, the failing ones with their fix right after.
var fbCases = []fbCase{
	{role: "before", desc: "server restarts between requests; POST, default policy", restart: true},
	{role: "after", desc: "server restarts between requests; POST, RetryIfErr on conn closed + idempotency key the server dedups", restart: true, retry: true},
	{role: "also", desc: "server closes after each response without Connection: close; POST, default policy", drop: true},
	{role: "also", desc: "server sends Connection: close and closes (fix for the row above)", announce: true},
	{role: "also", desc: "server Concurrency=1 exceeded (one held request); POST on a second connection", overload: true},
	{role: "also", desc: "server Concurrency=1; client MaxConns=1, MaxConnWaitTimeout=5s (fix for the row above)", overload: true, maxConns: 1},
	{role: "also", desc: fmt.Sprintf("server MaxRequestsPerConn=2 (rotation with Connection: close); %v gaps", fbGap), maxReqs: 2},
	{role: "also", desc: fmt.Sprintf("client MaxConnDuration=%v (rotation by the client's Connection: close); %v gaps", 2*fbGap, fbGap), maxConnDuration: 2 * fbGap},
	{role: "also", desc: "client req.SetConnectionClose()", connClose: true},
}

// Run implements Scenario.
func (FirstByteCauses) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, c := range fbCases {
		row, executed, err := c.run(ctx)
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		sc := row.ServerConns
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d of %d failed for the caller (%s); %d sent on a dead pooled connection; %d dials, %d reused; the server closed %d connections, the client %d (%d after reading the server's FIN); the server ran the work %d times",
			c.desc, row.Failed(), row.Requests, errString(row.Errors), row.Conns.DeadReuses, row.Dials, row.Conns.Reuses,
			sc.ClosedHere, row.Conns.ClosedHere+row.Conns.ClosedByPeer, row.Conns.ClosedByPeer, executed))
	}
	return o, nil
}

// run measures the case in a lab of its own; executed is how often the
// server ran a request's work (once per id: the server deduplicates).
func (c fbCase) run(ctx context.Context) (Row, int64, error) {
	row := Row{Role: c.role, Config: "fasthttp HostClient " + c.desc,
		Client: ClientConfig{Client: "fasthttp_host", Concurrency: 1, RetryNonIdempotent: c.retry, ServerDedups: c.retry,
			MaxConns: c.maxConns, MaxConnWaitTimeout: map[bool]time.Duration{true: 5 * time.Second}[c.maxConns > 0]}}
	if c.overload {
		row.Client.Concurrency, row.Client.ServerLimit = 2, 1
	}
	var executed executions // the server deduplicates by id in every row
	release := make(chan struct{})
	handler := func(rc *fasthttp.RequestCtx) {
		if rc.Request.Header.Peek("X-Hold") != nil {
			<-release
		}
		executed.run(string(rc.Request.Header.Peek(observe.RequestID)), true)
		rc.SetBodyString("ok")
		switch {
		case c.announce:
			rc.SetConnectionClose()
		case c.drop:
			rc.Hijack(func(net.Conn) {}) // the response is written, then the connection closed: no Connection: close
		}
	}
	l, err := newLab(handler, func(s *fasthttp.Server) {
		s.MaxRequestsPerConn = c.maxReqs
		if c.overload {
			s.Concurrency = 1
		}
	})
	if err != nil {
		return row, 0, err
	}
	t := newTally(&row)
	hc := &fasthttp.HostClient{Addr: l.srv.Addr, Dial: l.fastDial(), MaxConnDuration: c.maxConnDuration,
		MaxConns: c.maxConns, MaxConnWaitTimeout: row.Client.MaxConnWaitTimeout}
	if c.retry {
		hc.RetryIfErr = func(_ *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts < 3 && (errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed))
		}
	}
	post := func(id string, hold bool) (error, string) {
		req, resp := newRequest(l.url(), id, true), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		if hold {
			req.Header.Set("X-Hold", "1")
		}
		if c.connClose {
			req.SetConnectionClose()
		}
		if err := hc.Do(req, resp); err != nil {
			return err, ""
		}
		if code := resp.StatusCode(); code != fasthttp.StatusOK {
			return fmt.Errorf("status %d", code), "status_" + strconv.Itoa(code)
		}
		return nil, ""
	}
	err = c.drive(ctx, l, t, hc, post, release)
	t.finish()
	hc.CloseIdleConnections()
	l.finish(&row)
	return row, executed.n.Load(), err
}

// drive sends the row's requests.
func (c fbCase) drive(ctx context.Context, l *lab, t *tally, hc *fasthttp.HostClient, post func(string, bool) (error, string), release chan struct{}) error {
	if c.overload {
		return c.driveOverload(l, t, hc, post, release)
	}
	for i := range fbRequests {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case c.restart && i%2 == 1:
			if err := l.restart(); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond) // the old server's FIN crosses loopback
		case c.drop && i > 0:
			// The server closes after its response: wait until it has
			// (by its counting listener) so the next POST finds the
			// pooled connection dead, not racing the close.
			if !waitFor(func() bool { s := l.server.Counts(); return s.ClosedHere+s.ClosedByPeer >= l.handlers.Counts().Served }) {
				return errors.New("the server did not close its connection within 5 s")
			}
			time.Sleep(5 * time.Millisecond) // the FIN crosses loopback
		case c.maxReqs > 0 || c.maxConnDuration > 0:
			time.Sleep(fbGap)
		}
		t0 := time.Now()
		err, kind := post(strconv.Itoa(i), false)
		t.add(err, kind, t0)
	}
	return nil
}

// driveOverload holds one request on the server's only worker and sends
// the measured POST beside it, fbRequests/2 times.
func (c fbCase) driveOverload(l *lab, t *tally, hc *fasthttp.HostClient, post func(string, bool) (error, string), release chan struct{}) error {
	for i := range fbRequests / 2 {
		held := make(chan struct{})
		go func() {
			defer close(held)
			t0 := time.Now()
			err, kind := post("hold"+strconv.Itoa(i), true)
			t.add(err, kind, t0)
		}()
		if !waitFor(func() bool { return l.handlers.Running() == 1 }) {
			return errors.New("the held request never reached the handler")
		}
		measured := make(chan struct{})
		go func() {
			defer close(measured)
			t0 := time.Now()
			err, kind := post(strconv.Itoa(i), false)
			t.add(err, kind, t0)
		}()
		if c.maxConns > 0 {
			// Both requests are in the client: the measured one waits for
			// the held one's connection.
			if !waitFor(func() bool { return hc.PendingRequests() == 2 }) {
				return errors.New("the measured request never started")
			}
		} else {
			<-measured
		}
		release <- struct{}{}
		<-held
		<-measured
	}
	return nil
}

// Diagnose implements Scenario: a fasthttp client sending non-idempotent
// requests without a retry meets the error on every server restart.
func (s FirstByteCauses) Diagnose(c ClientConfig) []Exposure {
	var out []Exposure
	if c.fast() && !c.Idempotent && !c.RetryNonIdempotent {
		out = append(out, expose(s, "non-idempotent requests are not retried: a server restart (or a close without Connection: close) fails them with \"the server closed connection before returning the first response byte\"; RetryIfErr on that error with an idempotency key the server deduplicates")...)
	}
	if c.fast() && c.ServerLimit > 0 {
		if n, _ := c.maxConns(); n > c.ServerLimit && c.Concurrency > c.ServerLimit {
			out = append(out, expose(s, "MaxConns=%d above the server's Concurrency=%d with %d callers: the server answers new connections with 503; MaxConns ≤ Concurrency and MaxConnWaitTimeout", n, c.ServerLimit, c.Concurrency)...)
		}
	}
	return out
}

// Check implements Scenario.
func (FirstByteCauses) Check(o *Outcome) error {
	if len(o.Rows) != len(fbCases) {
		return fmt.Errorf("%d rows, want %d", len(o.Rows), len(fbCases))
	}
	half := fbRequests / 2
	for i, c := range fbCases {
		r := &o.Rows[i]
		dead, closed := r.Conns.DeadReuses, r.Errors["conn_closed"]
		switch {
		case c.restart && !c.retry, c.drop:
			// every other POST meets the dead connection and fails with the first-byte error
			if closed != half || dead != int64(half) || r.Failed() != half {
				return fmt.Errorf("%s: errors %v, %d sent on a dead connection: want %d first-byte errors, each on a dead pooled connection", c.desc, r.Errors, dead, half)
			}
		case c.retry:
			if r.Failed() != 0 || dead != int64(half) || r.Server.Served != fbRequests || r.Server.Duplicates != 0 {
				return fmt.Errorf("%s: errors %v, %d dead reuses, served %d, %d duplicates: want the %d dead connections retried silently and each POST run once", c.desc, r.Errors, dead, r.Server.Served, r.Server.Duplicates, half)
			}
		case c.overload && c.maxConns == 0:
			// the measured POSTs get a 503 the handler never saw (an error if the
			// close raced the response); the held ones succeed
			if r.Failed() != half || r.OK != half || r.Server.Served != int64(half) {
				return fmt.Errorf("%s: %d ok, errors %v, served %d: want the %d POSTs on a second connection refused before the handler", c.desc, r.OK, r.Errors, r.Server.Served, half)
			}
		case c.overload:
			if r.Failed() != 0 || r.Dials != 1 || r.Server.Served != fbRequests {
				return fmt.Errorf("%s: errors %v, %d dials: want every POST to wait for the one connection", c.desc, r.Errors, r.Dials)
			}
		case c.announce, c.connClose:
			if r.Failed() != 0 || dead != 0 || r.Conns.Reuses != 0 || r.Dials != fbRequests {
				return fmt.Errorf("%s: errors %v, %d dials, %d reused: want no error and a fresh connection per request", c.desc, r.Errors, r.Dials, r.Conns.Reuses)
			}
		default: // rotation
			if r.Failed() != 0 || dead != 0 || r.Dials < 2 || r.Conns.Reuses == 0 {
				return fmt.Errorf("%s: errors %v, %d dials, %d reused, %d dead reuses: want rotation (≥ 2 dials, some reuse) and no error", c.desc, r.Errors, r.Dials, r.Conns.Reuses, dead)
			}
		}
	}
	if m := o.Rows[6]; m.Dials != fbRequests/2 || m.ServerConns.ClosedHere != fbRequests/2 {
		return fmt.Errorf("server MaxRequestsPerConn=2: %d dials, %d closed by the server: want %d of each", m.Dials, m.ServerConns.ClosedHere, fbRequests/2)
	}
	return nil
}
