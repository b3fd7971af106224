package workloads

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/poolbench/poolbench/workloads/driver"
)

// Idle is the idle-connection workload: it opens Conns keep-alive
// connections, sends one request on each (so the server has set the
// connection up fully), then holds them all idle for Hold. OnEnd is called
// while they are held: that is when memory per connection is measured.
type Idle struct {
	// Hold is how long the connections stay idle (-hold).
	Hold time.Duration
	// Sweep is the process matrix's axis: -idle-conns.
	Sweep ConnSweep
}

// DefaultIdle holds the connections for 1 s.
var DefaultIdle = Idle{Hold: time.Second, Sweep: ConnSweep{Flag: "idle-conns", List: "1000,10000"}}

var _ Kind = (*Idle)(nil)

// maxHold bounds -hold: a cell holding connections longer measures nothing new.
const maxHold = time.Hour

// Traits implements Kind: iterations are connections, measured for memory.
func (*Idle) Traits() Traits {
	return Traits{Doc: "opens conns keep-alive connections, one request each, then holds them idle", PerConn: true}
}

// Flags implements Kind.
func (w *Idle) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&w.Hold, "hold", w.Hold, "idle: how long to hold the connections idle")
}

// SweepFlags implements Kind.
func (w *Idle) SweepFlags(fs *flag.FlagSet) { w.Sweep.SweepFlags(fs) }

// Validate implements Kind.
func (w *Idle) Validate() error {
	if w.Hold <= 0 || w.Hold > maxHold {
		return fmt.Errorf("-hold %v: want a duration > 0 and ≤ %v, e.g. 1s", w.Hold, maxHold)
	}
	return w.Sweep.Validate()
}

// Points implements Kind: one cell per connection count, each also with
// reduced server memory where the model supports it.
func (w *Idle) Points() []Point {
	ps := w.Sweep.Points(w)
	for i := range ps {
		ps[i].Mem = true
	}
	return ps
}

// Args implements Kind.
func (w *Idle) Args() []string { return []string{"-hold", w.Hold.String()} }

// Window implements Kind: the hold, plus a second to open the connections.
func (w *Idle) Window(time.Duration) time.Duration { return w.Hold + time.Second }

// Name implements Workload.
func (Idle) Name() string { return "idle" }

// Run implements Workload; p.Requests and p.Duration are ignored.
func (w Idle) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if p.Conns < 1 || p.Request == nil {
		return Result{}, fmt.Errorf("idle: conns=%d: need at least one connection and a request", p.Conns)
	}
	l := newLoop(ctx, Plan{Latency: p.Latency, OnStart: p.OnStart, OnEnd: p.OnEnd})
	l.start()
	conns := make([]*driver.Conn, 0, p.Conns)
	defer func() {
		for _, c := range conns {
			c.CloseConn()
		}
	}()
	t := l.newTally()
	// Open in parallel batches: dialing 10k connections one by one is slow.
	const batch = 64
	var mu sync.Mutex
	for start := 0; start < p.Conns; start += batch {
		n := min(batch, p.Conns-start)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				nc, err := d()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.dialFailed(err)
					return
				}
				t.dials++
				c := driver.NewConn(nc, false)
				conns = append(conns, c)
				t0 := time.Now()
				mu.Unlock()
				err = c.RoundTrip(p.Request)
				mu.Lock()
				t.record(err, t0)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			break
		}
	}
	if t.errs.Total() > 0 {
		l.unwatch()
		l.merge(t)
		return l.res, fmt.Errorf("idle: %d of %d connections failed (%v); first: %v", t.errs.Total(), p.Conns, t.errs, t.first)
	}
	select {
	case <-time.After(w.Hold):
	case <-ctx.Done():
	}
	l.merge(t)
	return l.finish(), nil
}
