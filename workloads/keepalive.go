package workloads

import (
	"context"
	"fmt"
	"time"

	"github.com/poolbench/poolbench/workloads/driver"
)

// Keepalive is the saturated keep-alive workload: Conns connections opened
// before the measured window, each sending requests back to back (closed
// loop). A connection that breaks is redialed. The process matrix sweeps
// its connection count.
type Keepalive struct {
	// ClosedLoop holds the process matrix's axis: -keepalive-conns.
	ClosedLoop
}

var _ Kind = (*Keepalive)(nil)

// Traits implements Kind: a closed loop measured per request.
func (*Keepalive) Traits() Traits {
	return Traits{Doc: "closed loop: conns connections opened before the window, back-to-back requests", Closed: true}
}

// Points implements Kind: one cell per connection count.
func (w *Keepalive) Points() []Point { return w.ConnSweep.Points(w) }

// Name implements Workload.
func (Keepalive) Name() string { return "keepalive" }

// Run implements Workload.
func (Keepalive) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	l := newLoop(ctx, p)
	conns := make([]*driver.Conn, p.Conns)
	for i := range conns {
		nc, err := d()
		if err != nil {
			for _, c := range conns[:i] {
				c.CloseConn()
			}
			return Result{}, fmt.Errorf("keepalive: dialing connection %d of %d: %w", i+1, p.Conns, err)
		}
		conns[i] = driver.NewConn(nc, false)
	}
	l.res.Dials = int64(p.Conns)
	return l.run(len(conns), func(i int, t *tally) {
		c := conns[i]
		defer func() { c.CloseConn() }()
		for l.next() {
			t0 := time.Now()
			if t.record(c.RoundTrip(p.Request), t0) || c.Close {
				c.CloseConn()
				nc, err := d()
				if err != nil {
					t.dialFailed(err)
					return
				}
				t.dials++
				c = driver.NewConn(nc, false)
			}
		}
	}), nil
}
