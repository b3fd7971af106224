package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// A test-only workload: each connection sends -fewreq-requests requests,
// then the client closes it and dials the next. One file and the one row
// below; the extension test finds load=fewreq in both layers' cells.
func init() {
	workloads.Registry.Add(func() workloads.Kind {
		return &fewReq{PerConn: 2, Sweep: workloads.ConnSweep{Flag: "fewreq-conns", List: "4"}}
	})
}

type fewReq struct {
	PerConn int
	Sweep   workloads.ConnSweep
}

var _ workloads.Kind = (*fewReq)(nil)

func (*fewReq) Name() string { return "fewreq" }

func (*fewReq) Traits() workloads.Traits {
	return workloads.Traits{Doc: "test only: a few requests per connection", Closed: true, Units: []string{"connects/s"}}
}

func (w *fewReq) Flags(fs *flag.FlagSet) {
	fs.IntVar(&w.PerConn, "fewreq-requests", w.PerConn, "fewreq: requests per connection")
}

func (w *fewReq) SweepFlags(fs *flag.FlagSet) {
	fs.StringVar(&w.Sweep.List, w.Sweep.Flag, w.Sweep.List, "fewreq: connection counts to sweep")
}

func (w *fewReq) Validate() error {
	if w.PerConn < 1 || w.PerConn > 1000 {
		return fmt.Errorf("-fewreq-requests %d: want requests per connection ≥ 1 and ≤ 1000", w.PerConn)
	}
	return w.Sweep.Validate()
}

func (w *fewReq) Points() []workloads.Point { return w.Sweep.Points(w) }

func (w *fewReq) Args() []string { return []string{"-fewreq-requests", strconv.Itoa(w.PerConn)} }

func (*fewReq) Window(d time.Duration) time.Duration { return d }

// Run sends p.Requests requests (or until p.Duration), PerConn per connection.
func (w *fewReq) Run(ctx context.Context, d workloads.Dialer, p workloads.Plan) (workloads.Result, error) {
	if err := p.Validate(); err != nil {
		return workloads.Result{}, err
	}
	var budget, ok, dials, failed atomic.Int64
	budget.Store(p.Requests)
	var stop atomic.Bool
	if p.OnStart != nil {
		p.OnStart()
	}
	began := time.Now()
	if p.Duration > 0 {
		defer time.AfterFunc(p.Duration, func() { stop.Store(true) }).Stop()
	}
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	next := func() bool { return (p.Requests <= 0 || budget.Add(-1) >= 0) && !stop.Load() }
	var first atomic.Value
	var wg sync.WaitGroup
	for range p.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more := next(); more; {
				nc, err := d()
				if err != nil {
					first.CompareAndSwap(nil, err)
					failed.Add(1)
					return
				}
				dials.Add(1)
				c := driver.NewConn(nc, false)
				for i := 0; i < w.PerConn && more; i, more = i+1, next() {
					if err := c.RoundTrip(p.Request); err != nil {
						first.CompareAndSwap(nil, err)
						failed.Add(1)
						continue
					}
					ok.Add(1)
				}
				c.CloseConn()
			}
		}()
	}
	wg.Wait()
	res := workloads.Result{OK: ok.Load(), Dials: dials.Load(), Elapsed: time.Since(began)}
	res.Errors.Transport = failed.Load()
	if err, _ := first.Load().(error); err != nil {
		res.FirstError = err
	}
	if p.OnEnd != nil {
		p.OnEnd()
	}
	return res, nil
}
