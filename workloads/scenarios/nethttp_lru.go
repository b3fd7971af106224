package scenarios

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/observe"
)

// NetHTTPLRU walks net/http's idle pool across hosts: MaxIdleConns caps
// idle connections over all hosts, and a connection put back into a full
// pool evicts the least recently used one (closed by the client). Callers
// that cycle over more hosts than MaxIdleConns allows never find their
// connection: every request dials. Beside it, closeConnIfStillIdle: a
// connection reused just under IdleConnTimeout is taken from the pool; one
// idle just over it was closed by the client's timer, so the request dials.
type NetHTTPLRU struct{}

var _ Scenario = NetHTTPLRU{}

// Name implements Scenario.
func (NetHTTPLRU) Name() string { return "nethttp_lru" }

// Problem implements Scenario.
func (NetHTTPLRU) Problem() string {
	return fmt.Sprintf("net/http MaxIdleConns=%d with requests cycling over %d hosts (127.0.0.1–%d): each returned connection evicts the least recently used idle one, so every request dials", lruMaxIdle, lruHosts, lruHosts)
}

// Fix implements Scenario.
func (NetHTTPLRU) Fix() string {
	return "MaxIdleConns ≥ hosts × MaxIdleConnsPerHost in use (0 = no limit): every host keeps its connection"
}

const (
	lruHosts, lruRounds = 4, 5
	lruMaxIdle          = 2
	lruIdleTimeout      = 500 * time.Millisecond
)

// Run implements Scenario.
func (NetHTTPLRU) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, maxIdle := range []int{lruMaxIdle, lruHosts} {
		row := Row{Role: "before", Config: fmt.Sprintf("net/http MaxIdleConns=%d, %d hosts round robin", maxIdle, lruHosts),
			Client: ClientConfig{Client: "nethttp", MaxIdleConns: maxIdle, Hosts: lruHosts, Concurrency: 1, DrainsBody: true, Idempotent: true}}
		if maxIdle != lruMaxIdle {
			row.Role = "after"
		}
		if err := lruRow(ctx, &row, maxIdle); err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d dials for %d requests, %d reused; the client closed %d connections itself (evictions, then the final CloseIdleConnections); sockets shown are the first host's",
			row.Role, row.Dials, row.Requests, row.Trace.Reused, row.Conns.ClosedHere))
	}
	for _, gap := range []time.Duration{lruIdleTimeout / 10, lruIdleTimeout * 9 / 5} {
		row := Row{Role: "also", Config: fmt.Sprintf("net/http IdleConnTimeout=%v, one host, %v gaps", lruIdleTimeout, gap),
			Client: ClientConfig{Client: "nethttp", ClientIdle: lruIdleTimeout, Concurrency: 1, DrainsBody: true, Idempotent: true}}
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
			tr := transport(l.dial())
			tr.IdleConnTimeout = lruIdleTimeout
			defer tr.CloseIdleConnections()
			for i := range 3 {
				if i > 0 {
					time.Sleep(gap)
				}
				t0 := time.Now()
				t.add(tracedGet(l.ctx(ctx), tr, l.url()), "", t0)
			}
			t.finish()
			return nil
		})
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("closeConnIfStillIdle, %v gaps: %d of %d requests reused an idle connection (longest idle %v); %d dials",
			gap, row.Trace.WasIdle, row.Trace.Got, row.Trace.MaxIdle.Round(time.Millisecond), row.Dials))
	}
	return o, nil
}

// lruRow cycles lruRounds times over lruHosts servers on 127.0.0.1…N
// through one Transport, one request at a time.
func lruRow(ctx context.Context, row *Row, maxIdle int) error {
	labs := map[string]*lab{}
	var client observe.Conns
	var trace observe.Trace
	var order []string
	for i := 1; i <= lruHosts; i++ {
		l, err := newLabAt(fmt.Sprintf("127.0.0.%d", i), func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, nil, 20*time.Millisecond)
		if err != nil {
			return err
		}
		labs[l.srv.Addr] = l
		order = append(order, l.srv.Addr)
	}
	tr := transport(nil)
	tr.DialContext = func(_ context.Context, _, addr string) (net.Conn, error) {
		return client.Dialer(labs[addr].dial())()
	}
	tr.MaxIdleConns = maxIdle
	t := newTally(row)
	for range lruRounds {
		for _, addr := range order {
			t0 := time.Now()
			t.add(tracedGet(trace.Context(ctx), tr, "http://"+addr+"/"), "", t0)
		}
	}
	t.finish()
	tr.CloseIdleConnections()
	var served observe.HandlerCounts
	for _, addr := range order {
		var r Row
		labs[addr].finish(&r)
		served.Served += r.Server.Served
		served.Peak = max(served.Peak, r.Server.Peak)
		if row.Sockets == nil {
			row.Sockets = r.Sockets // the first host's timeline
		}
	}
	cc, tc := client.Counts(), trace.Counts()
	row.Conns, row.Trace, row.Server, row.Dials = &cc, &tc, &served, cc.Opened
	return nil
}

// tracedGet GETs url through tr with ctx (carrying a trace) and drains
// the body.
func tracedGet(ctx context.Context, tr *http.Transport, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// Diagnose implements Scenario: fewer idle connections overall than hosts
// in use (0 is DefaultTransport's 100; -1 no limit).
func (s NetHTTPLRU) Diagnose(c ClientConfig) []Exposure {
	total := c.MaxIdleConns
	if total == 0 {
		total = 100
	}
	if c.fast() || total < 0 || c.Hosts <= total {
		return nil
	}
	return expose(s, "MaxIdleConns=%d < %d hosts: returned connections evict other hosts' idle ones (LRU), so requests cycling over the hosts dial; raise MaxIdleConns to hosts × per-host idle", total, c.Hosts)
}

// Check implements Scenario.
func (NetHTTPLRU) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	n := lruHosts * lruRounds
	if b.Dials < int64(n)*3/4 || b.Conns.ClosedHere < int64(n)/2 {
		return fmt.Errorf("before: %d dials, %d closed by the client for %d requests: want nearly every request to dial, its connection evicted", b.Dials, b.Conns.ClosedHere, n)
	}
	if a.Failed() != 0 || a.Dials > lruHosts+1 || a.Trace.Reused < int64(n-lruHosts-1) {
		return fmt.Errorf("after: %d dials, %d reused, errors %v: want one dial per host and reuse", a.Dials, a.Trace.Reused, a.Errors)
	}
	under, over := o.Rows[2], o.Rows[3]
	if under.Trace.WasIdle != 2 || over.Trace.WasIdle != 0 || over.Dials != 3 {
		return fmt.Errorf("IdleConnTimeout: %d of 2 reused just under it, %d reused and %d dials just over it: want 2, 0 and 3", under.Trace.WasIdle, over.Trace.WasIdle, over.Dials)
	}
	return nil
}
