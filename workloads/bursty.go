package workloads

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Bursty is the open-loop workload: vegeta's attacker sends square-wave
// bursts (PerSecond req/s for On, silence for Off, Bursts times). The client drops
// connections idle for ClientIdle, so when Off is longer every burst opens
// new connections, and the server's idle workers may expire in between.
// Latency is measured from each request's intended send time, so a stalled
// server cannot hide its queue (no coordinated omission). Each recorded
// result carries its trace (TraceHeader, bursty_trace.go): where the
// latency went and on which connection.
//
// The process matrix sweeps Off (-gaps) across fasthttp's
// MaxIdleWorkerDuration; its cells carry gap=<Off> and conns=na.
type Bursty struct {
	Wave       SquareWave
	Bursts     int
	ClientIdle time.Duration
	// Gaps is the process matrix's axis: silences to sweep (-gaps).
	Gaps string
	gaps []time.Duration
}

// DefaultBursty is the registered bursty workload: 3 bursts of 2,000 req/s
// for 1 s with 1 s between them; the process matrix sweeps 500ms and 2s.
var DefaultBursty = Bursty{Wave: SquareWave{PerSecond: 2000, On: time.Second, Off: time.Second}, Bursts: 3,
	ClientIdle: 200 * time.Millisecond, Gaps: "500ms,2s"}

var _ Kind = (*Bursty)(nil)

// Bounds of the bursty settings: the pacer cannot serve more than MaxRate
// on one load core, and longer runs measure nothing new.
const (
	MaxRate   = 100_000
	maxBursts = 1000
	maxPhase  = time.Hour
)

// Name implements Workload.
func (*Bursty) Name() string { return "bursty" }

// Traits implements Kind: an open loop that records vegeta results.
func (*Bursty) Traits() Traits {
	return Traits{Doc: "open loop: square-wave bursts from vegeta's attacker, latency from the intended send time",
		Records: true, Units: []string{"connects/s", "timewait-socks"}}
}

// Flags implements Kind.
func (b *Bursty) Flags(fs *flag.FlagSet) {
	fs.IntVar(&b.Wave.PerSecond, "rate", b.Wave.PerSecond, "bursty: requests per second within a burst")
	fs.DurationVar(&b.Wave.On, "on", b.Wave.On, "bursty: length of a burst")
	fs.DurationVar(&b.Wave.Off, "off", b.Wave.Off, "bursty: silence between bursts (poolbench run sweeps -gaps instead)")
	fs.IntVar(&b.Bursts, "bursts", b.Bursts, "bursty: number of bursts")
	fs.DurationVar(&b.ClientIdle, "client-idle", b.ClientIdle, "bursty: the client closes connections idle this long")
}

// SweepFlags implements Kind.
func (b *Bursty) SweepFlags(fs *flag.FlagSet) {
	fs.StringVar(&b.Gaps, "gaps", b.Gaps, "bursty: silences between bursts to sweep (fasthttp's idle workers expire after -max-idle-worker-duration)")
}

// Validate implements Kind: every setting within its bounds, and a burst
// of at least one request.
func (b *Bursty) Validate() error {
	if err := b.validateWave(); err != nil {
		return err
	}
	b.gaps = b.gaps[:0]
	for _, g := range strings.Split(b.Gaps, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(g))
		if err != nil || d < 0 || d > maxPhase {
			return fmt.Errorf("-gaps %q: %q is not a duration such as 500ms or 2s (≥ 0, ≤ %v)", b.Gaps, strings.TrimSpace(g), maxPhase)
		}
		b.gaps = append(b.gaps, d)
	}
	return nil
}

// validateWave checks the settings Run uses.
func (b *Bursty) validateWave() error {
	w := b.Wave
	switch {
	case w.PerSecond < 1 || w.PerSecond > MaxRate:
		return fmt.Errorf("-rate %d: want requests per second ≥ 1 and ≤ %d", w.PerSecond, MaxRate)
	case w.On <= 0 || w.On > maxPhase:
		return fmt.Errorf("-on %v: want a burst length > 0 and ≤ %v, e.g. 1s", w.On, maxPhase)
	case w.PerBurst() == 0:
		return fmt.Errorf("-rate %d -on %v: a burst holds no request: raise -rate or -on", w.PerSecond, w.On)
	case w.Off < 0 || w.Off > maxPhase:
		return fmt.Errorf("-off %v: want a silence ≥ 0 and ≤ %v, e.g. 1s", w.Off, maxPhase)
	case b.Bursts < 1 || b.Bursts > maxBursts:
		return fmt.Errorf("-bursts %d: want a count ≥ 1 and ≤ %d", b.Bursts, maxBursts)
	}
	return positive("client-idle", b.ClientIdle)
}

// Points implements Kind: one cell per gap, vegeta opening what it needs.
func (b *Bursty) Points() []Point {
	var out []Point
	for _, g := range b.gaps {
		c := *b
		c.Wave.Off = g
		out = append(out, Point{Load: &c, Keys: map[string]string{"gap": g.String()}})
	}
	return out
}

// Args implements Kind.
func (b *Bursty) Args() []string {
	return []string{"-rate", strconv.Itoa(b.Wave.PerSecond), "-on", b.Wave.On.String(),
		"-off", b.Wave.Off.String(), "-bursts", strconv.Itoa(b.Bursts), "-client-idle", b.ClientIdle.String()}
}

// Window implements Kind: the bursts and the silences between them.
func (b *Bursty) Window(time.Duration) time.Duration {
	return time.Duration(b.Bursts)*b.Wave.On + time.Duration(b.Bursts-1)*b.Wave.Off
}

// Run implements Workload. p.Conns caps vegeta's workers (0: 10,000);
// p.Requests and p.Duration are ignored: the wave sets the load.
func (b *Bursty) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if err := b.validateWave(); err != nil {
		return Result{}, fmt.Errorf("bursty: %w", err)
	}
	if p.Request == nil {
		return Result{}, errors.New("plan: no request to send")
	}
	l := newLoop(ctx, Plan{Latency: true, OnStart: p.OnStart, OnEnd: p.OnEnd})
	var dials atomic.Int64
	total := uint64(b.Bursts) * b.Wave.PerBurst()
	trc := newTracer(time.Time{}, total) // bursty_trace.go: where each request's latency went
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			c, err := d()
			if err != nil {
				return nil, err
			}
			return trc.wrap(c), nil
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
	var enc vegeta.Encoder
	if p.Record != nil {
		enc = vegeta.NewEncoder(p.Record)
	}
	t := l.newTally()
	l.start()
	trc.began = l.began
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var seen uint64
	for res := range atk.Attack(vegeta.NewStaticTargeter(target), tracedPacer{stopAfter{b.Wave, total}, trc}, 0, "bursty") {
		seen++
		// Latency from the intended send time: vegeta times from when a
		// worker picked the hit up, which is late if the server fell behind.
		intended := l.began.Add(b.Wave.Due(res.Seq))
		end := res.Timestamp.Add(res.Latency)
		if enc != nil {
			// The body is the same bytes every time and checked above by
			// its length: keeping it would only slow the load down.
			res.Body = nil
			if tc, ok := trc.trace(res.Seq, int64(b.Wave.Due(res.Seq)), int64(res.Timestamp.Sub(l.began)), int64(end.Sub(l.began))); ok {
				res.Headers = trc.annotate(res.Headers, tc)
			}
		}
		if lat := end.Sub(intended); lat > res.Latency {
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
