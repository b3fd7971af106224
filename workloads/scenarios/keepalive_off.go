package scenarios

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"
)

// KeepAliveOff: a net/http client with keep-alive off dials for every
// request, and the TIME_WAIT sockets land on the side that closes first.
// DisableKeepAlives sends "Connection: close", so the server closes first
// and holds the TIME_WAIT; MaxIdleConnsPerHost < 0 keeps no idle
// connection, so the client closes first and holds it. Keep-alive with an
// idle pool sized to the callers reuses.
type KeepAliveOff struct{}

var _ Scenario = KeepAliveOff{}

// Name implements Scenario.
func (KeepAliveOff) Name() string { return "keepalive_off" }

// Problem implements Scenario.
func (KeepAliveOff) Problem() string {
	return "net/http DisableKeepAlives=true (or MaxIdleConnsPerHost=-1): one dial per request; TIME_WAIT on the server (Connection: close) or on the client (no idle pool)"
}

// Fix implements Scenario.
func (KeepAliveOff) Fix() string {
	return "keep-alive on, MaxIdleConnsPerHost = the concurrency: connections are reused"
}

const kaWorkers, kaPer = 4, 50

// Run implements Scenario.
func (KeepAliveOff) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, c := range []struct {
		role, desc string
		disable    bool
		perHost    int
	}{
		{"before", "net/http DisableKeepAlives=true", true, kaWorkers},
		{"also", "net/http MaxIdleConnsPerHost=-1", false, -1},
		{"after", fmt.Sprintf("net/http keep-alive, MaxIdleConnsPerHost=%d", kaWorkers), false, kaWorkers},
	} {
		per := c.perHost
		if c.disable {
			per = -1 // the doctor's spelling of keep-alive off
		}
		row := Row{Role: c.role, Config: fmt.Sprintf("%s; %d callers", c.desc, kaWorkers),
			Client: ClientConfig{Client: "nethttp", MaxIdleConnsPerHost: per, Concurrency: kaWorkers, DrainsBody: true, Idempotent: true}}
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
			tr := transport(l.dial())
			tr.DisableKeepAlives, tr.MaxIdleConnsPerHost = c.disable, c.perHost
			defer tr.CloseIdleConnections()
			return hammer(ctx, kaWorkers, kaPer, t, func() (error, string) { return tracedGet(l.ctx(ctx), tr, l.url()), "" })
		})
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		last := row.Sockets.Last()
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d dials for %d requests; TIME_WAIT %d on the client, %d on the server (the side that closed first holds it)",
			row.Role, row.Dials, row.Requests, last.Client.TimeWait, last.Server.TimeWait))
	}
	return o, nil
}

// Diagnose implements Scenario.
func (s KeepAliveOff) Diagnose(c ClientConfig) []Exposure {
	if c.fast() || c.idlePerHost() >= 0 {
		return nil
	}
	return expose(s, "keep-alive off (MaxIdleConnsPerHost<0 or DisableKeepAlives): every request dials and leaves a TIME_WAIT socket; keep-alive on with MaxIdleConnsPerHost = %d", c.Concurrency)
}

// Check implements Scenario: keep-alive off dials per request with the
// TIME_WAIT on the side that closed first; keep-alive on reuses.
func (KeepAliveOff) Check(o *Outcome) error {
	b, also, a := o.Row("before"), o.Row("also"), o.Row("after")
	for _, r := range []*Row{b, also} {
		if r.Dials*10 < int64(r.Requests)*9 || r.Trace.Reused != 0 {
			return fmt.Errorf("%s: %d dials, %d reused for %d requests: want a dial per request", r.Role, r.Dials, r.Trace.Reused, r.Requests)
		}
	}
	bl, al := b.Sockets.Last(), also.Sockets.Last()
	if bl.Server.TimeWait*10 < b.Requests*9 || bl.Client.TimeWait*10 > b.Requests {
		return fmt.Errorf("before: TIME_WAIT server %d, client %d for %d requests: want them on the server (Connection: close makes it close first)", bl.Server.TimeWait, bl.Client.TimeWait, b.Requests)
	}
	if al.Client.TimeWait*10 < also.Requests*9 || al.Server.TimeWait*10 > also.Requests {
		return fmt.Errorf("MaxIdleConnsPerHost=-1: TIME_WAIT client %d, server %d for %d requests: want them on the client (it closes first)", al.Client.TimeWait, al.Server.TimeWait, also.Requests)
	}
	if a.Failed() != 0 || a.Dials*5 > int64(a.Requests) || a.Trace.Reused*10 < a.Trace.Got*8 {
		return fmt.Errorf("after: %d dials, %d of %d reused, errors %v: want reuse", a.Dials, a.Trace.Reused, a.Trace.Got, a.Errors)
	}
	return nil
}
