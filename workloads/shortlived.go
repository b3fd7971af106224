package workloads

import (
	"context"
	"time"

	"github.com/poolbench/poolbench/workloads/driver"
)

// Shortlived is the short-lived connection workload: every request goes on a
// fresh connection that the client closes once the response is read, so
// TIME_WAIT lands on the client and the server pays for every accept. The
// process matrix sweeps its connection count.
type Shortlived struct {
	// ClosedLoop holds the process matrix's axis: -shortlived-conns.
	ClosedLoop
}

var _ Kind = (*Shortlived)(nil)

// Traits implements Kind: a closed loop that also counts connects and TIME_WAIT.
func (*Shortlived) Traits() Traits {
	return Traits{Doc: "closed loop: one request per connection, closed by the client", Closed: true, RequestsPerConn: 1,
		Units: []string{"connects/s", "timewait-socks"}}
}

// Points implements Kind: one cell per connection count.
func (w *Shortlived) Points() []Point { return w.ConnSweep.Points(w) }

// Name implements Workload.
func (Shortlived) Name() string { return "shortlived" }

// Run implements Workload. Latency includes the dial.
func (Shortlived) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	l := newLoop(ctx, p)
	return l.run(p.Conns, func(_ int, t *tally) {
		var c *driver.Conn
		for l.next() {
			t0 := time.Now()
			nc, err := d()
			if err != nil {
				t.dialFailed(err)
				continue
			}
			t.dials++
			if c == nil {
				c = driver.NewConn(nc, false)
			} else {
				c.Reset(nc)
			}
			t.record(c.RoundTrip(p.Request), t0)
			c.CloseConn()
		}
	}), nil
}
