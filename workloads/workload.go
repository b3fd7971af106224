// Package workloads holds the load shapes poolbench drives servers with. A
// Workload sends one pre-encoded request over connections from a Dialer and
// counts what came back; Registry is the explicit table of them, and each
// describes itself as a Kind.
package workloads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/poolbench/poolbench/workloads/driver"
)

// Dialer opens one client connection to the server under test.
type Dialer func() (net.Conn, error)

// Plan says how much closed-loop load to send.
type Plan struct {
	// Conns is the number of concurrent connections (one client goroutine
	// each, unless a Dedicated keep-alive load drives them from driver.Loops).
	Conns int
	// Requests is the total number of requests to send; 0 means no limit.
	Requests int64
	// Duration stops the load after this long; 0 means no limit.
	Duration time.Duration
	// Request is sent over and over.
	Request *driver.Request
	// Latency records each request's latency into Result.Latency.
	Latency bool
	// OnStart, if set, is called once all setup (such as dialing keep-alive
	// connections) is done, just before the first request: the start of the
	// measured window.
	OnStart func()
	// OnEnd, if set, is called at the end of the measured window, before
	// connections are torn down (the idle workload measures here).
	OnEnd func()
	// Record, if set, receives every response in vegeta's binary format
	// (open-loop workloads only).
	Record io.Writer
	// Dedicated says the load has its process to itself (poolbench load):
	// a workload may then keep its thread blocked in the kernel while it
	// waits, as wrk does, with no server in the process to starve.
	Dedicated bool
}

// Validate reports what is wrong with p.
func (p Plan) Validate() error {
	switch {
	case p.Conns < 1:
		return fmt.Errorf("plan: conns=%d: need at least one connection", p.Conns)
	case p.Requests <= 0 && p.Duration <= 0:
		return errors.New("plan: neither a request count nor a duration: the load would never stop")
	case p.Request == nil:
		return errors.New("plan: no request to send")
	}
	return nil
}

// Result counts what a workload saw.
type Result struct {
	// OK counts responses that passed the checks.
	OK int64
	// Errors counts failed requests by kind.
	Errors Errors
	// Dials counts connections opened.
	Dials int64
	// Elapsed is the measured window, from OnStart to the last response.
	Elapsed time.Duration
	// Latency holds per-request latencies in nanoseconds when Plan.Latency is set.
	Latency *hdrhistogram.Histogram
	// FirstError is the first error seen, for messages.
	FirstError error
	// Kinds counts failed requests by the client's error kind (ClientLoad).
	Kinds map[string]int64
}

// Errors counts failed requests by kind.
type Errors struct {
	Dial, Transport, Status, BodyLen, Framing int64
}

// Total is the number of failed requests.
func (e Errors) Total() int64 { return e.Dial + e.Transport + e.Status + e.BodyLen + e.Framing }

func (e Errors) String() string {
	return fmt.Sprintf("dial=%d transport=%d status=%d bodylen=%d framing=%d", e.Dial, e.Transport, e.Status, e.BodyLen, e.Framing)
}

// Workload is one load shape.
type Workload interface {
	// Name is the workload's cell value, e.g. "keepalive".
	Name() string
	// Run sends the load of p through d and waits for it to finish.
	Run(ctx context.Context, d Dialer, p Plan) (Result, error)
}

// maxLatency is the histogram's ceiling: 60 s in ns.
const maxLatency = int64(60 * time.Second)

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, maxLatency, 3) }

// loop is the shared closed-loop machinery: a request budget, a stop flag,
// per-worker tallies merged at the end.
type loop struct {
	p      Plan
	budget atomic.Int64
	// stopped is set when the duration or ctx ends: one atomic load per
	// request instead of a clock read and a context check.
	stopped atomic.Bool
	timer   *time.Timer
	unwatch func() bool // stops watching ctx
	began   time.Time
	ctx     context.Context

	mu  sync.Mutex
	res Result
}

func newLoop(ctx context.Context, p Plan) *loop {
	l := &loop{p: p, ctx: ctx}
	l.budget.Store(p.Requests)
	if p.Latency {
		l.res.Latency = newHistogram()
	}
	return l
}

// end marks the end of the measured window.
func (p Plan) end() {
	if p.OnEnd != nil {
		p.OnEnd()
	}
}

// start marks the beginning of the measured window.
func (l *loop) start() {
	if l.p.OnStart != nil {
		l.p.OnStart()
	}
	l.began = time.Now()
	if l.p.Duration > 0 {
		l.timer = time.AfterFunc(l.p.Duration, func() { l.stopped.Store(true) })
	}
	l.unwatch = context.AfterFunc(l.ctx, func() { l.stopped.Store(true) })
}

// finish marks the end of the measured window: it records the elapsed
// time, stops the timer and the context watch, and calls Plan.OnEnd.
func (l *loop) finish() Result {
	l.res.Elapsed = time.Since(l.began)
	if l.timer != nil {
		l.timer.Stop()
	}
	l.unwatch()
	l.p.end()
	return l.res
}

// tally is one worker's private counts.
type tally struct {
	ok, dials int64
	errs      Errors
	first     error
	hist      *hdrhistogram.Histogram
}

func (l *loop) newTally() *tally {
	t := &tally{}
	if l.p.Latency {
		t.hist = newHistogram()
	}
	return t
}

// next reports whether the worker may send another request.
func (l *loop) next() bool {
	if l.p.Requests > 0 && l.budget.Add(-1) < 0 {
		return false
	}
	return !l.stopped.Load()
}

// dialFailed counts a failed dial.
func (t *tally) dialFailed(err error) {
	t.errs.Dial++
	if t.first == nil {
		t.first = err
	}
}

// run starts the measured window, runs work in n goroutines, each with its
// own tally, waits for them, ends the window and returns the result.
func (l *loop) run(n int, work func(i int, t *tally)) Result {
	l.start()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := l.newTally()
			defer l.merge(t)
			work(i, t)
		}()
	}
	wg.Wait()
	return l.finish()
}

// record counts one request's outcome; it reports whether the connection
// must be replaced.
func (t *tally) record(err error, began time.Time) (broken bool) {
	if err == nil {
		t.ok++
		if t.hist != nil {
			_ = t.hist.RecordValue(int64(time.Since(began)))
		}
		return false
	}
	if t.first == nil {
		t.first = err
	}
	var ce *driver.CheckError
	if !errors.As(err, &ce) {
		t.errs.Transport++
		return true
	}
	switch ce.Kind {
	case driver.ErrStatus:
		t.errs.Status++
		return false
	case driver.ErrBodyLen:
		t.errs.BodyLen++
		return false
	}
	t.errs.Framing++
	return true
}

func (l *loop) merge(t *tally) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.res.OK += t.ok
	l.res.Dials += t.dials
	e := &l.res.Errors
	e.Dial += t.errs.Dial
	e.Transport += t.errs.Transport
	e.Status += t.errs.Status
	e.BodyLen += t.errs.BodyLen
	e.Framing += t.errs.Framing
	if l.res.FirstError == nil {
		l.res.FirstError = t.first
	}
	if t.hist != nil {
		l.res.Latency.Merge(t.hist)
	}
}
