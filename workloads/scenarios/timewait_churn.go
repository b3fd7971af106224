package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/clients"
	"github.com/poolbench/poolbench/workloads/observe"
)

// TimeWaitChurn: net/http's default transport keeps only 2 idle connections
// per host, so 100 concurrent callers close (and redial) nearly every
// connection, leaving TIME_WAIT sockets behind; MaxIdleConnsPerHost sized to
// the concurrency keeps them.
type TimeWaitChurn struct{}

var _ Scenario = TimeWaitChurn{}

// Name implements Scenario.
func (TimeWaitChurn) Name() string { return "timewait_churn" }

// Problem implements Scenario.
func (TimeWaitChurn) Problem() string {
	return "net/http default Transport (MaxIdleConnsPerHost=2) with 100 concurrent callers: with 1 ms between a caller's requests, most requests redial (75–85% measured here, quiet or busy; the facts give this run's), TIME_WAIT piles up on the client side"
}

// Fix implements Scenario.
func (TimeWaitChurn) Fix() string {
	return "MaxIdleConnsPerHost (and MaxIdleConns) = the concurrency: each caller keeps its connection"
}

const twWorkers, twPer = 100, 50

// twThink is how long a caller waits between its requests, as real callers
// do: meanwhile its connection sits idle, so more than two are idle at
// once whatever else the machine runs, and the pool of 2 closes the rest
// (callers that reissue at once would hand their connections straight back
// and forth, and the churn would depend on the scheduler: 8–68% measured).
const twThink = time.Millisecond

// Run implements Scenario.
func (TimeWaitChurn) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, name := range []string{"nethttp_default", "nethttp_tuned"} {
		m, err := clients.Lookup(name)
		if err != nil {
			return nil, err
		}
		row := Row{Role: "before", Config: fmt.Sprintf("%s (MaxIdleConnsPerHost=2); %d callers", name, twWorkers),
			Client: ClientConfig{Client: "nethttp", MaxIdleConnsPerHost: 0, Concurrency: twWorkers, DrainsBody: true, Idempotent: true}}
		if name == "nethttp_tuned" {
			row.Role, row.Config = "after", fmt.Sprintf("%s (MaxIdleConnsPerHost=%d); %d callers", name, twWorkers, twWorkers)
			row.Client.MaxIdleConnsPerHost = twWorkers
		}
		err = onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, &row, func(l *lab, t *tally) error {
			c := m.New(l.dial(), twWorkers)
			defer c.CloseIdle()
			return hammer(ctx, twWorkers, twPer, t, func() (error, string) {
				code, _, err := c.Get(l.url())
				if err == nil && code != 200 {
					return fmt.Errorf("status %d", code), "status"
				}
				time.Sleep(twThink)
				return err, ""
			})
		})
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		tl := row.Sockets
		o.Facts = append(o.Facts, fmt.Sprintf("%s: dials were %.0f%% of requests (%d of %d); %d of %d requests reused a connection; "+
			"TIME_WAIT peaked at %d on the client side and %d on the server side (the client closed first: it drops what exceeds its idle pool)",
			row.Role, 100*float64(row.Dials)/float64(max(row.Requests, 1)), row.Dials, row.Requests, row.Conns.Reuses, row.Conns.Uses,
			tl.Peak(func(s observe.Snapshot) int { return s.Client.TimeWait }), tl.Peak(func(s observe.Snapshot) int { return s.Server.TimeWait })))
	}
	return o, nil
}

// Diagnose implements Scenario: net/http with more callers than idle
// connections per host (keep-alive off, < 0, is the keepalive_off rule).
func (s TimeWaitChurn) Diagnose(c ClientConfig) []Exposure {
	per := c.idlePerHost()
	if c.fast() || per < 0 || c.Concurrency <= per {
		return nil
	}
	return expose(s, "MaxIdleConnsPerHost=%d < %d concurrent requests: connections beyond it are closed after each request (a share of requests redial, TIME_WAIT on the client); set it to the concurrency", per, c.Concurrency)
}

// Check implements Scenario: the before row must churn (a measured share
// of requests dial; TIME_WAIT piles up on the client side, which closed
// first), and the after row must reuse.
func (TimeWaitChurn) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	bl := b.Sockets.Last()
	if b.Dials < int64(b.Requests)/10 || bl.Client.TimeWait < 100 {
		return fmt.Errorf("before: %d dials for %d requests, %d client TIME_WAIT: want at least a tenth of the requests redialled and 100 TIME_WAIT", b.Dials, b.Requests, bl.Client.TimeWait)
	}
	if bl.Server.TimeWait*10 > bl.Client.TimeWait {
		return fmt.Errorf("before: TIME_WAIT client %d, server %d: want the client (which closes its surplus idle conns) to hold them", bl.Client.TimeWait, bl.Server.TimeWait)
	}
	// net/http dials for a waiting caller even if another connection comes
	// free first (the spare one joins the pool), so allow up to two per
	// caller: the churn is in the before row, which grows with requests.
	if a.Dials > twWorkers*2 || a.Failed() != 0 || a.Conns.Reuses*10 < a.Conns.Uses*9 {
		return fmt.Errorf("after: %d dials (want about one per caller, at most %d), %d of %d requests reused, errors %v", a.Dials, twWorkers*2, a.Conns.Reuses, a.Conns.Uses, a.Errors)
	}
	if b.Dials < 5*a.Dials {
		return fmt.Errorf("before: %d dials, after %d: want the fix to cut dials at least fivefold", b.Dials, a.Dials)
	}
	if al := a.Sockets.Last(); al.Client.TimeWait*4 > bl.Client.TimeWait {
		return fmt.Errorf("after: %d client TIME_WAIT sockets, before %d: want at most a quarter", al.Client.TimeWait, bl.Client.TimeWait)
	}
	return nil
}
