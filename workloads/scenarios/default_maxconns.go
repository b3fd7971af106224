package scenarios

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultMaxConns: a fasthttp.Client left with MaxConnsPerHost unset
// allows DefaultMaxConnsPerHost (512) connections to a host; more callers
// than that against a slow host fail with ErrNoFreeConns — the notes'
// "no free connections available to host" with nothing configured.
// MaxConnWaitTimeout makes the extra callers queue instead.
type DefaultMaxConns struct{}

var _ Scenario = DefaultMaxConns{}

// Name implements Scenario.
func (DefaultMaxConns) Name() string { return "default_maxconns" }

// Problem implements Scenario.
func (DefaultMaxConns) Problem() string {
	return fmt.Sprintf("fasthttp.Client with MaxConnsPerHost unset (DefaultMaxConnsPerHost=%d), %d concurrent callers, a %v handler: \"no free connections available to host\"", fasthttp.DefaultMaxConnsPerHost, dmCallers, dmHandler)
}

// Fix implements Scenario.
func (DefaultMaxConns) Fix() string {
	return "MaxConnWaitTimeout (callers queue for one of the 512) or MaxConnsPerHost sized to the callers"
}

const (
	dmCallers = fasthttp.DefaultMaxConnsPerHost + 88
	dmHandler = 500 * time.Millisecond
)

// Run implements Scenario.
func (DefaultMaxConns) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, wait := range []time.Duration{0, 10 * time.Second} {
		row := Row{Role: "before", Config: fmt.Sprintf("fasthttp.Client, MaxConnsPerHost unset; %d callers", dmCallers),
			Client: ClientConfig{Client: "fasthttp", Concurrency: dmCallers, Idempotent: true}}
		if wait > 0 {
			row.Role, row.Config = "after", fmt.Sprintf("fasthttp.Client, MaxConnsPerHost unset, MaxConnWaitTimeout=%v; %d callers", wait, dmCallers)
			row.Client.MaxConnWaitTimeout = wait
		}
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { time.Sleep(dmHandler); ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
			d := l.dial()
			c := &fasthttp.Client{MaxConnWaitTimeout: wait, Dial: func(string) (net.Conn, error) { return d() }}
			defer c.CloseIdleConnections()
			return hammer(ctx, dmCallers, 1, t, func() (error, string) {
				code, _, err := c.Get(nil, l.url())
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
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d dials, the server ran up to %d handlers at once, %d callers got ErrNoFreeConns",
			row.Role, row.Dials, row.Server.Peak, row.Errors["no_free_conns"]))
	}
	return o, nil
}

// Diagnose implements Scenario: the no_free_conns rule with MaxConns unset.
func (s DefaultMaxConns) Diagnose(c ClientConfig) []Exposure {
	if c.MaxConns != 0 {
		return nil
	}
	if exps := (NoFreeConns{}).Diagnose(c); len(exps) > 0 {
		return expose(s, "%s", exps[0].Why)
	}
	return nil
}

// Check implements Scenario: before, the client stops at 512 connections
// and fails the rest; after, the rest queue and all succeed.
func (DefaultMaxConns) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["no_free_conns"] == 0 || b.Dials > fasthttp.DefaultMaxConnsPerHost || b.Server.Peak > fasthttp.DefaultMaxConnsPerHost {
		return fmt.Errorf("before: errors %v, %d dials, server peak %d: want ErrNoFreeConns with at most %d connections", b.Errors, b.Dials, b.Server.Peak, fasthttp.DefaultMaxConnsPerHost)
	}
	if a.Failed() != 0 || a.Dials > fasthttp.DefaultMaxConnsPerHost {
		return fmt.Errorf("after: errors %v, %d dials: want every caller served on at most %d connections", a.Errors, a.Dials, fasthttp.DefaultMaxConnsPerHost)
	}
	return nil
}
