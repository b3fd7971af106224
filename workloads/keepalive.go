package workloads

import (
	"context"
	"fmt"
	"net"
	"runtime"
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
	conns := make([]net.Conn, p.Conns)
	for i := range conns {
		nc, err := d()
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return Result{}, fmt.Errorf("keepalive: dialing connection %d of %d: %w", i+1, p.Conns, err)
		}
		conns[i] = nc
	}
	l.res.Dials = int64(p.Conns)
	if _, tcp := conns[0].(*net.TCPConn); tcp && p.Dedicated {
		return runLoop(l, d, p, conns)
	}
	cs := make([]*driver.Conn, len(conns))
	for i, nc := range conns {
		cs[i] = driver.NewConn(nc, false)
	}
	return l.run(len(conns), func(i int, t *tally) {
		c := cs[i]
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

// runLoop is Keepalive.Run over TCP connections in a process of its own
// (Plan.Dedicated): the connections split among GOMAXPROCS driver.Loops,
// each driving its share from one goroutine, as wrk -t drives them from
// its threads, instead of a goroutine each. A Loop keeps its P while it
// waits in epoll_wait, which would starve a server in the same process,
// so in-process loads keep a goroutine per connection.
func runLoop(l *loop, d Dialer, p Plan, conns []net.Conn) (Result, error) {
	k := min(runtime.GOMAXPROCS(0), len(conns))
	loops := make([]*driver.Loop, k)
	for i := range loops {
		var err error
		loops[i], err = driver.NewLoop(conns[i*len(conns)/k:(i+1)*len(conns)/k], p.Request)
		if err != nil {
			for _, lp := range loops[:i] {
				lp.Close()
			}
			for _, nc := range conns[(i+1)*len(conns)/k:] {
				nc.Close()
			}
			return Result{}, fmt.Errorf("keepalive: %w", err)
		}
	}
	return l.run(k, func(i int, t *tally) {
		loops[i].Run(driver.LoopFuncs{
			Next: l.next,
			Done: t.record,
			Dial: func() (net.Conn, error) {
				nc, err := d()
				if err != nil {
					t.dialFailed(err)
					return nil, err
				}
				t.dials++
				return nc, nil
			},
		})
	}), nil
}
