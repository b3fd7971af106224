package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// NoFreeConns: a HostClient whose MaxConns is below its callers' concurrency
// against a slow handler fails fast with ErrNoFreeConns; MaxConnWaitTimeout
// makes callers queue for a connection instead, at a latency cost. Beside
// it, net/http's MaxConnsPerHost queues too: a request waiting in
// idleConnWait is handed the connection a finishing request returns
// (httptrace: Reused, not WasIdle), with no new dial.
type NoFreeConns struct{}

var _ Scenario = NoFreeConns{}

// Name implements Scenario.
func (NoFreeConns) Name() string { return "no_free_conns" }

// Problem implements Scenario.
func (NoFreeConns) Problem() string {
	return "fasthttp HostClient MaxConns=4 with 16 concurrent callers and a 20 ms handler: \"no free connections available to host\""
}

// Fix implements Scenario.
func (NoFreeConns) Fix() string {
	return "MaxConnWaitTimeout > 0: callers wait for a free connection (p99 grows by the queueing) instead of failing"
}

const (
	nfcConns, nfcWorkers, nfcPer = 4, 16, 10
	nfcHandler                   = 20 * time.Millisecond
)

// Run implements Scenario.
func (s NoFreeConns) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, wait := range []time.Duration{0, 5 * time.Second} {
		role, cfg := "before", fmt.Sprintf("HostClient MaxConns=%d, MaxConnWaitTimeout=0; %d callers", nfcConns, nfcWorkers)
		if wait > 0 {
			role, cfg = "after", fmt.Sprintf("HostClient MaxConns=%d, MaxConnWaitTimeout=%v; %d callers", nfcConns, wait, nfcWorkers)
		}
		row := Row{Role: role, Config: cfg, Client: ClientConfig{Client: "fasthttp_host", MaxConns: nfcConns, MaxConnWaitTimeout: wait, Concurrency: nfcWorkers, Idempotent: true}}
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { time.Sleep(nfcHandler); ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
			hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxConns: nfcConns, MaxConnWaitTimeout: wait, Dial: l.fastDial()}
			defer hc.CloseIdleConnections()
			return hammer(ctx, nfcWorkers, nfcPer, t, func() (error, string) {
				code, _, err := hc.Get(nil, l.url())
				if err == nil && code != 200 {
					return fmt.Errorf("status %d", code), "status"
				}
				return err, ""
			})
		})
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
	}
	// net/http's MaxConnsPerHost queues instead of failing.
	row := Row{Role: "also", Config: fmt.Sprintf("net/http Transport MaxConnsPerHost=%d (MaxIdleConnsPerHost=%d); %d callers", nfcConns, nfcConns, nfcWorkers),
		Client: ClientConfig{Client: "nethttp", MaxIdleConnsPerHost: nfcConns, Concurrency: nfcWorkers, DrainsBody: true, Idempotent: true}}
	err := onFreshServer(func(ctx *fasthttp.RequestCtx) { time.Sleep(nfcHandler); ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
		tr := transport(l.dial())
		tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost = nfcConns, nfcConns
		defer tr.CloseIdleConnections()
		return hammer(ctx, nfcWorkers, nfcPer, t, func() (error, string) { return tracedGet(l.ctx(ctx), tr, l.url()), "" })
	})
	if err != nil {
		return nil, err
	}
	o.Rows = append(o.Rows, row)
	o.Facts = append(o.Facts, fmt.Sprintf("net/http with MaxConnsPerHost=%d: %d errors, the server ran at most %d handlers at once, %d dials: callers wait for a connection (p99 %s) where fasthttp without MaxConnWaitTimeout fails",
		nfcConns, row.Failed(), row.Server.Peak, row.Dials, row.p99Cell()),
		fmt.Sprintf("net/http idleConnWait: of %d requests, %d got a reused connection, %d of them from the idle pool and %d handed over by a finishing request to a waiting one (httptrace GotConn Reused, not WasIdle); no dial for those",
			row.Trace.Got, row.Trace.Reused, row.Trace.WasIdle, row.Trace.Reused-row.Trace.WasIdle))
	return o, nil
}

// Diagnose implements Scenario: more callers than MaxConns (512 unset)
// and no wait.
func (s NoFreeConns) Diagnose(c ClientConfig) []Exposure {
	n, unset := c.maxConns()
	if !c.fast() || c.Concurrency <= n || c.MaxConnWaitTimeout > 0 {
		return nil
	}
	what := fmt.Sprintf("MaxConns=%d", n)
	if unset {
		what = fmt.Sprintf("MaxConns unset (DefaultMaxConnsPerHost=%d)", n)
	}
	return expose(s, "%s < %d concurrent requests and MaxConnWaitTimeout=0: ErrNoFreeConns; set MaxConnWaitTimeout or raise MaxConns", what, c.Concurrency)
}

// Check implements Scenario.
func (NoFreeConns) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["no_free_conns"] == 0 {
		return fmt.Errorf("before: no ErrNoFreeConns in %d requests (errors %v): the failure did not reproduce", b.Requests, b.Errors)
	}
	if a.Failed() != 0 || a.OK != nfcWorkers*nfcPer {
		return fmt.Errorf("after: %d of %d ok, errors %v: MaxConnWaitTimeout did not remove the failures", a.OK, nfcWorkers*nfcPer, a.Errors)
	}
	if a.Dials > nfcConns || a.Server.Peak > nfcConns {
		return fmt.Errorf("after: %d dials, server peak %d handlers: want at most MaxConns=%d of each", a.Dials, a.Server.Peak, nfcConns)
	}
	if b.Server.Peak > nfcConns || b.Server.Served != int64(b.OK) {
		return fmt.Errorf("before: the server ran %d handlers at once and served %d, want ≤ MaxConns=%d and the %d that succeeded: the refused requests never left the client", b.Server.Peak, b.Server.Served, nfcConns, b.OK)
	}
	q := o.Row("also")
	if q.Failed() != 0 || q.Server.Peak > nfcConns {
		return fmt.Errorf("net/http MaxConnsPerHost=%d: errors %v, server peak %d: want callers to queue (no error) with at most %d at once", nfcConns, q.Errors, q.Server.Peak, nfcConns)
	}
	// idleConnWait: a returned connection goes straight to a waiting
	// request (Reused, not WasIdle) instead of a new dial.
	if n := int64(nfcWorkers * nfcPer); q.Dials > nfcConns || q.Trace.Got != n || q.Trace.Reused-q.Trace.WasIdle < n/2 {
		return fmt.Errorf("net/http MaxConnsPerHost=%d: %d dials, %d conns got, %d reused, %d from the idle pool: want at most %d dials and most of the %d requests handed a returned connection while waiting",
			nfcConns, q.Dials, q.Trace.Got, q.Trace.Reused, q.Trace.WasIdle, nfcConns, n)
	}
	return nil
}
