package workloads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Bursty is the open-loop workload: vegeta's attacker sends square-wave
// bursts (PerSecond req/s for On, silence for Off, Bursts times). The client drops
// connections idle for ClientIdle, so when Off is longer every burst opens
// new connections, and the server's idle workers may expire in between.
// Latency is measured from each request's intended send time, so a stalled
// server cannot hide its queue (no coordinated omission).
type Bursty struct {
	Wave       SquareWave
	Bursts     int
	ClientIdle time.Duration
}

// DefaultBursty is the registered bursty workload: 3 bursts of 2,000 req/s
// for 1 s with 1 s between them.
var DefaultBursty = Bursty{Wave: SquareWave{PerSecond: 2000, On: time.Second, Off: time.Second}, Bursts: 3, ClientIdle: 200 * time.Millisecond}

var _ Workload = Bursty{}

// Name implements Workload.
func (Bursty) Name() string { return "bursty" }

// Validate reports what is wrong with b.
func (b Bursty) Validate() error {
	if b.Wave.PerSecond <= 0 || b.Wave.On <= 0 || b.Wave.Off < 0 || b.Bursts < 1 || b.Wave.PerBurst() == 0 {
		return fmt.Errorf("bursty: rate=%d on=%v off=%v bursts=%d: need a positive rate, burst length and count", b.Wave.PerSecond, b.Wave.On, b.Wave.Off, b.Bursts)
	}
	return nil
}

// Run implements Workload. p.Conns caps vegeta's workers (0: 10,000);
// p.Requests and p.Duration are ignored: the wave sets the load.
func (b Bursty) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if err := b.Validate(); err != nil {
		return Result{}, err
	}
	if p.Request == nil {
		return Result{}, errors.New("plan: no request to send")
	}
	l := newLoop(ctx, Plan{Latency: true, OnStart: p.OnStart, OnEnd: p.OnEnd})
	var dials atomic.Int64
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return d()
		},
		MaxIdleConnsPerHost: 10000,
		IdleConnTimeout:     b.ClientIdle,
	}
	defer tr.CloseIdleConnections()
	workers := uint64(10000)
	if p.Conns > 0 {
		workers = uint64(p.Conns)
	}
	atk := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: 30 * time.Second}),
		vegeta.Workers(64), vegeta.MaxWorkers(workers))
	target := vegeta.Target{Method: http.MethodGet, URL: "http://poolbench" + p.Request.Target}
	total := uint64(b.Bursts) * b.Wave.PerBurst()
	var enc vegeta.Encoder
	if p.Record != nil {
		enc = vegeta.NewEncoder(p.Record)
	}
	t := l.newTally()
	l.start()
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var seen uint64
	for res := range atk.Attack(vegeta.NewStaticTargeter(target), stopAfter{b.Wave, total}, 0, "bursty") {
		seen++
		// Latency from the intended send time: vegeta times from when a
		// worker picked the hit up, which is late if the server fell behind.
		intended := l.began.Add(b.Wave.Due(res.Seq))
		if lat := res.Timestamp.Add(res.Latency).Sub(intended); lat > res.Latency {
			res.Latency = lat
		}
		res.Timestamp = intended
		var err error
		switch {
		case res.Error != "":
			err = errors.New(res.Error)
		case int(res.Code) != p.Request.Status:
			t.errs.Status++
			if t.first == nil {
				t.first = fmt.Errorf("status %d, want %d", res.Code, p.Request.Status)
			}
		case p.Request.BodyLen >= 0 && int(res.BytesIn) != p.Request.BodyLen:
			t.errs.BodyLen++
			if t.first == nil {
				t.first = fmt.Errorf("body of %d bytes, want %d", res.BytesIn, p.Request.BodyLen)
			}
		default:
			t.ok++
			_ = t.hist.RecordValue(int64(res.Latency))
		}
		if err != nil {
			t.errs.Transport++
			if t.first == nil {
				t.first = err
			}
		}
		if enc != nil {
			if err := enc.Encode(res); err != nil {
				return Result{}, fmt.Errorf("bursty: writing vegeta results: %w", err)
			}
		}
	}
	t.dials = dials.Load()
	l.merge(t)
	l.finish()
	if seen != total && ctx.Err() == nil {
		return l.res, fmt.Errorf("bursty: vegeta sent %d requests, the wave plans %d", seen, total)
	}
	return l.res, nil
}

// stopAfter stops a SquareWave after n hits.
type stopAfter struct {
	SquareWave
	n uint64
}

var _ vegeta.Pacer = stopAfter{}

func (s stopAfter) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= s.n {
		return 0, true
	}
	return s.SquareWave.Pace(elapsed, hits)
}
