package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DoTimeoutLeak checks the old warning that fasthttp's DoTimeout returns
// ErrTimeout while the request keeps running and holds its connection, so
// the pool fills up. It measures what fasthttp v1.74.0 does: DoTimeout sets
// deadlines on the connection, so the call ends on time and the connection
// is closed, not left busy (the next call dials; MaxConns=2 never runs
// out). What stays is the work on the server: the handler runs to the end
// for a client that has gone. The advice to use ReadTimeout instead has a
// trap: Do retries an idempotent request that timed out, up to
// MaxIdemponentCallAttempts (5) times, multiplying the wait and the
// abandoned server work; with MaxIdemponentCallAttempts=1 it behaves like
// DoTimeout.
type DoTimeoutLeak struct{}

var _ Scenario = DoTimeoutLeak{}

// Name implements Scenario.
func (DoTimeoutLeak) Name() string { return "dotimeout_leak" }

// Problem implements Scenario.
func (DoTimeoutLeak) Problem() string {
	return "HostClient.DoTimeout(50ms) on a 200 ms handler, MaxConns=2: does the abandoned request keep its connection busy and fill the pool?"
}

// Fix implements Scenario.
func (DoTimeoutLeak) Fix() string {
	return "ReadTimeout/WriteTimeout with MaxIdemponentCallAttempts=1 (without it, Do retries a timed-out GET 5 times); the server's work needs a server-side limit either way"
}

const (
	dtHandler  = 200 * time.Millisecond
	dtTimeout  = 50 * time.Millisecond
	dtMaxConns = 2
	dtCalls    = 6
)

// Run implements Scenario.
func (s DoTimeoutLeak) Run(ctx context.Context) (*Outcome, error) {
	var inflight, finishedLate atomic.Int64
	srv, err := startFast(func(ctx *fasthttp.RequestCtx) {
		inflight.Add(1)
		time.Sleep(dtHandler)
		inflight.Add(-1)
		finishedLate.Add(1)
		ctx.SetBodyString("ok")
	}, nil)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	o := &Outcome{}
	type cfg struct {
		role, desc string
		doTimeout  bool
		attempts   int
	}
	for _, c := range []cfg{
		{"before", fmt.Sprintf("HostClient MaxConns=%d, DoTimeout(%v)", dtMaxConns, dtTimeout), true, 0},
		{"also", fmt.Sprintf("HostClient MaxConns=%d, ReadTimeout=WriteTimeout=%v, Do() (default 5 attempts)", dtMaxConns, dtTimeout), false, 0},
		{"after", fmt.Sprintf("HostClient MaxConns=%d, ReadTimeout=WriteTimeout=%v, MaxIdemponentCallAttempts=1, Do()", dtMaxConns, dtTimeout), false, 1},
	} {
		row := Row{Role: c.role, Config: c.desc, Client: ClientConfig{Client: "fasthttp_host", MaxConns: dtMaxConns, Concurrency: 1,
			UsesDoTimeout: c.doTimeout, Idempotent: true, MaxAttempts: c.attempts}}
		if !c.doTimeout {
			row.Client.ReadTimeout = dtTimeout
		}
		var dials counter
		dial := dials.dialer(srv.Addr)
		hc := &fasthttp.HostClient{Addr: srv.Addr, MaxConns: dtMaxConns, MaxIdemponentCallAttempts: c.attempts,
			Dial: func(string) (net.Conn, error) { return dial() }}
		if !c.doTimeout {
			hc.ReadTimeout, hc.WriteTimeout = dtTimeout, dtTimeout
		}
		finishedLate.Store(0)
		t := newTally(&row)
		var slowest time.Duration
		var busyAtReturn int64
		for range dtCalls {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + srv.Addr + "/")
			t0 := time.Now()
			if c.doTimeout {
				err = hc.DoTimeout(req, resp, dtTimeout)
			} else {
				err = hc.Do(req, resp)
			}
			slowest = max(slowest, time.Since(t0))
			busyAtReturn = max(busyAtReturn, inflight.Load())
			kind := ""
			if errors.Is(err, fasthttp.ErrTimeout) {
				kind = "timeout"
			}
			t.add(err, kind, t0)
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
		t.finish()
		// Wait for the server to finish the abandoned handlers.
		deadline := time.Now().Add(3 * time.Second)
		for inflight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		hc.CloseIdleConnections()
		row.Dials = dials.n.Load()
		row.Errors["server_work_abandoned"] = int(finishedLate.Load())
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: slowest call returned after %v; handlers still running on the server when a call returned: up to %d; "+
			"abandoned handlers the server ran to the end: %d for %d calls; dials: %d",
			row.Role, slowest.Round(time.Millisecond), busyAtReturn, finishedLate.Load(), dtCalls, row.Dials))
	}
	return o, nil
}

// Check implements Scenario: it asserts what v1.74.0 was measured to do, so
// a fasthttp upgrade that changes it fails here.
func (DoTimeoutLeak) Check(o *Outcome) error {
	for _, role := range []string{"before", "after", "also"} {
		r := o.Row(role)
		attempts := 1
		if role == "also" {
			attempts = 5 // MaxIdemponentCallAttempts' default
		}
		if r.Errors["timeout"] != dtCalls {
			return fmt.Errorf("%s: %d of %d calls timed out (errors %v), want all", role, r.Errors["timeout"], dtCalls, r.Errors)
		}
		if r.Errors["no_free_conns"] != 0 {
			return fmt.Errorf("%s: ErrNoFreeConns: abandoned requests kept their connections busy, as older fasthttp did", role)
		}
		if r.Dials != int64(dtCalls*attempts) {
			return fmt.Errorf("%s: %d dials for %d timed-out calls: want %d each (a timed-out connection is closed)", role, r.Dials, dtCalls, attempts)
		}
		if r.Errors["server_work_abandoned"] != dtCalls*attempts {
			return fmt.Errorf("%s: the server finished %d abandoned handlers, want %d: the work is not cancelled", role, r.Errors["server_work_abandoned"], dtCalls*attempts)
		}
	}
	return nil
}
