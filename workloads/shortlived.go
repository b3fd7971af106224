package workloads

import (
	"context"
	"flag"
	"time"

	"github.com/poolbench/poolbench/workloads/driver"
)

// Shortlived is the short-lived connection workload: every request goes on a
// fresh connection that the client closes once the response is read, so
// TIME_WAIT lands on the client and the server pays for every accept. The
// process matrix sweeps its connection count.
type Shortlived struct {
	// Sweep is the process matrix's axis: -shortlived-conns.
	Sweep ConnSweep
}

var _ Kind = (*Shortlived)(nil)

// Traits implements Kind: a closed loop that also counts connects and TIME_WAIT.
func (*Shortlived) Traits() Traits {
	return Traits{Doc: "closed loop: one request per connection, closed by the client", Closed: true,
		Units: []string{"connects/s", "timewait-socks"}}
}

// Flags implements Kind: shortlived has no settings of its own.
func (*Shortlived) Flags(*flag.FlagSet) {}

// SweepFlags implements Kind.
func (w *Shortlived) SweepFlags(fs *flag.FlagSet) { w.Sweep.flags(fs, w.Name()) }

// Validate implements Kind.
func (w *Shortlived) Validate() error { return w.Sweep.Validate() }

// Points implements Kind: one cell per connection count.
func (w *Shortlived) Points() []Point { return w.Sweep.Points(w) }

// Args implements Kind.
func (*Shortlived) Args() []string { return nil }

// Window implements Kind: the closed-loop window.
func (*Shortlived) Window(d time.Duration) time.Duration { return d }

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
