package scenarios

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
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
	return "net/http default Transport (MaxIdleConnsPerHost=2) with 100 concurrent callers: dials ≈ requests, TIME_WAIT piles up"
}

// Fix implements Scenario.
func (TimeWaitChurn) Fix() string {
	return "MaxIdleConnsPerHost (and MaxIdleConns) = the concurrency: each caller keeps its connection"
}

const twWorkers, twPer = 100, 50

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
		err = onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, &row, func(addr string, dial workloads.Dialer, t *tally) error {
			c := m.New(dial, twWorkers)
			defer c.CloseIdle()
			return hammer(ctx, twWorkers, twPer, t, func() (error, string) {
				code, _, err := c.Get("http://" + addr + "/")
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
	return o, nil
}

// Check implements Scenario.
func (TimeWaitChurn) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Dials < int64(b.Requests)/4 || b.TimeWait < 100 {
		return fmt.Errorf("before: %d dials for %d requests, %d TIME_WAIT: want at least a quarter of the requests redialled and 100 TIME_WAIT", b.Dials, b.Requests, b.TimeWait)
	}
	// net/http dials for a waiting caller even if another connection comes
	// free first (the spare one joins the pool), so allow up to two per
	// caller: the churn is in the before row, which grows with requests.
	if a.Dials > twWorkers*2 || a.Failed() != 0 {
		return fmt.Errorf("after: %d dials (want about one per caller, at most %d), errors %v", a.Dials, twWorkers*2, a.Errors)
	}
	if b.Dials < 5*a.Dials {
		return fmt.Errorf("before: %d dials, after %d: want the fix to cut dials at least fivefold", b.Dials, a.Dials)
	}
	if a.TimeWait*4 > b.TimeWait {
		return fmt.Errorf("after: %d TIME_WAIT sockets, before %d: want at most a quarter", a.TimeWait, b.TimeWait)
	}
	return nil
}
