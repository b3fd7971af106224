package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// DoTimeoutLeak reproduces what the notes warn of: a timed-out request
// goes on running on the server. The notes quote older fasthttp, whose
// clientDoDeadline kept the abandoned request on its connection until
// ReadTimeout, which bounded the load on a slow host to MaxConns. fasthttp
// v1.74.0's DoTimeout instead sets deadlines on the connection and closes
// it on timeout, so the call frees its slot at once and the next call dials
// — while the server still runs the abandoned handler. With concurrent
// callers the server runs more handlers at once than MaxConns; ReadTimeout
// (with MaxIdemponentCallAttempts=1) does the same. The fix bounds the work
// where it runs: a server-side Concurrency limit keeps the server's peak at
// the limit (the excess calls get a 503 instead of hidden work).
type DoTimeoutLeak struct{}

var _ Scenario = DoTimeoutLeak{}

// Name implements Scenario.
func (DoTimeoutLeak) Name() string { return "dotimeout_leak" }

// Problem implements Scenario.
func (DoTimeoutLeak) Problem() string {
	return fmt.Sprintf("HostClient MaxConns=%d, %d concurrent callers, DoTimeout(%v) on a %v handler: each timeout frees the client's slot but not the server's handler, so the server runs more handlers at once than MaxConns",
		dtMaxConns, dtCallers, dtTimeout, dtHandler)
}

// Fix implements Scenario.
func (DoTimeoutLeak) Fix() string {
	return "bound the work where it runs: the server's Concurrency (or a handler semaphore) at the load the client's MaxConns was meant to allow; a client timeout alone does not stop the server"
}

const (
	dtHandler  = 200 * time.Millisecond
	dtTimeout  = 50 * time.Millisecond
	dtMaxConns = 2
	dtCallers  = 8
	dtPer      = 3
)

// Run implements Scenario.
func (s DoTimeoutLeak) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	type cfg struct {
		role, desc   string
		doTimeout    bool
		serverLimit  int
		attemptsOpts int
	}
	for _, c := range []cfg{
		{"before", fmt.Sprintf("HostClient MaxConns=%d, DoTimeout(%v); server unbounded", dtMaxConns, dtTimeout), true, 0, 0},
		{"also", fmt.Sprintf("HostClient MaxConns=%d, ReadTimeout=%v, MaxIdemponentCallAttempts=1, Do(); server unbounded", dtMaxConns, dtTimeout), false, 0, 1},
		{"after", fmt.Sprintf("HostClient MaxConns=%d, DoTimeout(%v); server Concurrency=%d", dtMaxConns, dtTimeout, dtMaxConns), true, dtMaxConns, 0},
	} {
		row := Row{Role: c.role, Config: c.desc, Client: ClientConfig{Client: "fasthttp_host", MaxConns: dtMaxConns, MaxConnWaitTimeout: time.Second,
			Concurrency: dtCallers, UsesDoTimeout: c.doTimeout, Idempotent: true, MaxAttempts: c.attemptsOpts, ServerLimit: c.serverLimit}}
		if !c.doTimeout {
			row.Client.ReadTimeout = dtTimeout
		}
		var slowest time.Duration
		var slowMu sync.Mutex
		configure := func(s *fasthttp.Server) { s.Concurrency = c.serverLimit }
		l, err := newLab(func(ctx *fasthttp.RequestCtx) { time.Sleep(dtHandler); ctx.SetBodyString("ok") }, configure)
		if err != nil {
			return nil, err
		}
		hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxConns: dtMaxConns, MaxConnWaitTimeout: time.Second,
			MaxIdemponentCallAttempts: c.attemptsOpts, Dial: l.fastDial()}
		if !c.doTimeout {
			hc.ReadTimeout, hc.WriteTimeout = dtTimeout, dtTimeout
		}
		t := newTally(&row)
		err = hammer(ctx, dtCallers, dtPer, t, func() (error, string) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(l.url())
			t0 := time.Now()
			var err error
			if c.doTimeout {
				err = hc.DoTimeout(req, resp, dtTimeout)
			} else {
				err = hc.Do(req, resp)
			}
			slowMu.Lock()
			slowest = max(slowest, time.Since(t0))
			slowMu.Unlock()
			switch {
			case errors.Is(err, fasthttp.ErrTimeout):
				return err, "timeout"
			case err == nil && resp.StatusCode() == fasthttp.StatusServiceUnavailable:
				return errors.New("503 from the server's Concurrency limit"), "server_limit_503"
			case err == nil && resp.StatusCode() != 200:
				return fmt.Errorf("status %d", resp.StatusCode()), "status"
			}
			return err, ""
		})
		// Let the server finish the abandoned handlers before counting.
		deadline := time.Now().Add(3 * time.Second)
		for l.handlers.Running() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		hc.CloseIdleConnections()
		l.finish(&row)
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: the server ran up to %d handlers at once for a client with MaxConns=%d; it ran %d handlers for %d calls of which %d succeeded; "+
			"the client dialed %d times and closed %d connections itself (v1.74.0 closes a timed-out connection and dials anew; releases with clientDoDeadline keep it busy until the response); slowest call %v",
			row.Role, row.Server.Peak, dtMaxConns, row.Server.Served, row.Requests, row.OK, row.Dials, row.Conns.ClosedHere, slowest.Round(time.Millisecond)))
	}
	return o, nil
}

// Diagnose implements Scenario: a client timeout with nothing bounding the
// server's work.
func (s DoTimeoutLeak) Diagnose(c ClientConfig) []Exposure {
	if !c.UsesDoTimeout && c.ReadTimeout == 0 {
		return nil
	}
	out := []Exposure{}
	if c.ServerLimit == 0 {
		out = append(out, expose(s, "the client gives up after a timeout, the server does not: abandoned handlers keep running while the client dials anew, so the server runs more than MaxConns at once; bound the work on the server (Concurrency or a semaphore)")...)
	}
	if c.fast() && !c.UsesDoTimeout && c.retries() {
		out = append(out, expose(s, "ReadTimeout with retries: Do sends a timed-out idempotent request again, up to %d times; set MaxIdemponentCallAttempts=1 or a RetryIfErr", max(c.MaxAttempts, 5))...)
	}
	return out
}

// Check implements Scenario: before (and with ReadTimeout) the server's
// peak of concurrent handlers exceeds the client's MaxConns — abandoned
// handlers keep running while the client dials anew; after, the server's
// limit holds the peak at MaxConns.
func (DoTimeoutLeak) Check(o *Outcome) error {
	for _, role := range []string{"before", "also"} {
		r := o.Row(role)
		if r.Errors["timeout"] == 0 {
			return fmt.Errorf("%s: no call timed out (errors %v): the handler is slower than the timeout, want timeouts", role, r.Errors)
		}
		if r.Server.Peak <= dtMaxConns {
			return fmt.Errorf("%s: the server ran at most %d handlers at once, want more than MaxConns=%d: timed-out requests did not pile up on the server", role, r.Server.Peak, dtMaxConns)
		}
		if r.Dials <= dtMaxConns {
			return fmt.Errorf("%s: %d dials: want a new connection after timeouts (v1.74.0 closes a timed-out connection)", role, r.Dials)
		}
	}
	a := o.Row("after")
	if a.Server.Peak > dtMaxConns {
		return fmt.Errorf("after: the server ran %d handlers at once with Concurrency=%d: the limit did not bound the work", a.Server.Peak, dtMaxConns)
	}
	return nil
}
