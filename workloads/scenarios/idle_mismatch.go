package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/observe"
)

// IdleMismatch: the server closes keep-alive connections idle longer than
// its idle timeout; a fasthttp client keeps them for MaxIdleConnDuration
// (10 s unset). A request that comes after the server's timeout but before
// the client's takes a connection the server has closed — a CLOSE_WAIT
// socket still in fasthttp's pool — and a POST (or any request with
// MaxIdemponentCallAttempts=1) fails with "the server closed connection
// before returning the first response byte"; GETs hide it behind a retry
// on a new dial. The failure region is exactly client idle > server idle
// and server idle < gap < client idle: the phase table sweeps gap × client
// idle against a fixed server idle. net/http's per-connection background
// reader sees the server's FIN and drops the connection from its pool, so
// the same mismatch costs it a dial, not an error. The fix is a client
// idle duration below the server's: the whole region disappears.
type IdleMismatch struct{}

var _ Scenario = IdleMismatch{}

// Name implements Scenario.
func (IdleMismatch) Name() string { return "idle_mismatch" }

// Problem implements Scenario.
func (IdleMismatch) Problem() string {
	return fmt.Sprintf("server idle timeout %v < fasthttp client MaxIdleConnDuration (10 s unset), requests %v apart: POSTs fail with \"the server closed connection before returning the first response byte\"; GETs retry silently", imServerIdle, imGapFail)
}

// Fix implements Scenario.
func (IdleMismatch) Fix() string {
	return "client MaxIdleConnDuration (net/http: IdleConnTimeout) below the server's idle timeout: the client drops the connection first"
}

const (
	imServerIdle = 200 * time.Millisecond
	imGapFail    = 350 * time.Millisecond
	imFixIdle    = 100 * time.Millisecond
	imRequests   = 3
)

// The phase sweep: gaps and client idle durations placed well away from
// each other and from the server's idle, so a busy machine's late timers do
// not move a cell across a boundary.
var (
	imGaps  = []time.Duration{50 * time.Millisecond, imGapFail, 900 * time.Millisecond}
	imIdles = []time.Duration{imFixIdle, 600 * time.Millisecond, 0}
)

// Phase is a sweep of request gap × client idle against a fixed server idle.
type Phase struct {
	ServerIdle time.Duration   `json:"server_idle_ns"`
	Gaps       []time.Duration `json:"gaps_ns"`
	// ClientIdles are the client's idle durations; 0 is unset (10 s).
	ClientIdles []time.Duration `json:"client_idles_ns"`
	// Cells[i][j] is client idle i at gap j.
	Cells [][]PhaseCell `json:"cells"`
}

// PhaseCell is one cell of a phase table.
type PhaseCell struct {
	Requests, Failed int
	// DeadReuses: requests sent on a connection the server had closed.
	DeadReuses int64
	// Dials is connections opened.
	Dials int64
	// CloseWait is the peak of client sockets in CLOSE_WAIT (closed by the
	// server, still held by the client's pool).
	CloseWait int
	// Predicted: the rule says this cell fails.
	Predicted bool
	// Errors counts the failures by kind.
	Errors map[string]int `json:",omitempty"`
	// Misplaced counts requests whose outcome contradicts the rule at the
	// idle time measured before each (a late timer on a busy machine moves
	// a request, not the rule); Unjudged those within imSlack of a
	// boundary, or past the client's idle (where fasthttp's cleaner
	// goroutine, not the clock, decides whether the dead conn is still
	// pooled).
	Misplaced, Unjudged int
}

// imProbe is one request: the idle time measured since the previous
// response, and whether it failed.
type imProbe struct {
	idle   time.Duration
	failed bool
}

const imSlack = 30 * time.Millisecond

type judgement int

const (
	judgeNone judgement = iota
	judgeFail
	judgeOK
)

// imJudge applies the rule to one request's measured idle time: past the
// server's idle and short of the client's, it must fail; short of the
// server's idle, it must succeed.
func imJudge(serverIdle, clientIdle, idle time.Duration) judgement {
	switch {
	case idle > serverIdle+imSlack && idle < clientIdle-imSlack:
		return judgeFail
	case idle < serverIdle-imSlack:
		return judgeOK
	}
	return judgeNone
}

// idleOf is MaxIdleConnDuration with its default.
func idleOf(d time.Duration) time.Duration {
	if d == 0 {
		return fasthttp.DefaultMaxIdleConnDuration
	}
	return d
}

// imFails is the rule: a reuse fails when the server has closed the
// connection and the client has not.
func imFails(serverIdle, clientIdle, gap time.Duration) bool {
	return gap > serverIdle && gap < idleOf(clientIdle)
}

// PhaseCaption says how to read the phase table.
func (p *Phase) PhaseCaption() string {
	return fmt.Sprintf("POSTs after a gap, server idle %v: failed/requests (requests sent on a connection the server had closed, client CLOSE_WAIT peak); ✗ where the rule predicts failure at the nominal gap. Each request is judged by the idle time the server saw, so a timer late on a busy machine moves a request, not the rule", p.ServerIdle)
}

// Rows formats the phase table: a header (client idle \ gap, then the
// gaps) and one row per client idle.
func (p *Phase) Rows() (header []string, rows [][]string) {
	header = []string{"client idle \\ gap"}
	for _, g := range p.Gaps {
		header = append(header, g.String())
	}
	for i, idle := range p.ClientIdles {
		name := idle.String()
		if idle == 0 {
			name = "unset (10s)"
		}
		row := []string{name}
		for _, c := range p.Cells[i] {
			mark := ""
			if c.Predicted {
				mark = " ✗"
			}
			row = append(row, fmt.Sprintf("%d/%d (%d, %d)%s", c.Failed, c.Requests, c.DeadReuses, c.CloseWait, mark))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// Markdown renders the phase table.
func (p *Phase) Markdown() string {
	header, rows := p.Rows()
	var b strings.Builder
	b.WriteString(p.PhaseCaption() + "\n\n| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// Run implements Scenario.
func (IdleMismatch) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{Phase: &Phase{ServerIdle: imServerIdle, Gaps: imGaps, ClientIdles: imIdles}}
	type job struct {
		row  *Row
		cell *PhaseCell
		ci   int // the cell's client idle index
		run  func(*lab, *tally, *[]imProbe) error
		// probes are the job's requests: measured idle and outcome.
		probes []imProbe
	}
	var jobs []job
	fastRow := func(role string, post bool, attempts int, idle, gap time.Duration) *Row {
		desc := fmt.Sprintf("fasthttp HostClient GET (default retries), MaxIdleConnDuration=%v, %v gaps", idleOf(idle), gap)
		if post {
			desc = fmt.Sprintf("fasthttp HostClient POST, MaxIdleConnDuration=%v, %v gaps", idleOf(idle), gap)
		}
		r := &Row{Role: role, Config: desc, Client: ClientConfig{Client: "fasthttp_host", ServerIdle: imServerIdle, ClientIdle: idle,
			Idempotent: !post, MaxAttempts: attempts, Concurrency: 1, DrainsBody: true}}
		return r
	}
	fastRun := func(post bool, attempts int, idle, gap time.Duration) func(*lab, *tally, *[]imProbe) error {
		return func(l *lab, t *tally, probes *[]imProbe) error {
			hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxIdleConnDuration: idle, MaxIdemponentCallAttempts: attempts, Dial: l.fastDial()}
			defer hc.CloseIdleConnections()
			return paced(ctx, gap, t, probes, l, func() error {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI(l.url())
				if post {
					req.Header.SetMethod(fasthttp.MethodPost)
					req.SetBodyString("payload")
				}
				return hc.Do(req, resp)
			})
		}
	}
	o.Phase.Cells = make([][]PhaseCell, len(imIdles))
	for i, idle := range imIdles {
		o.Phase.Cells[i] = make([]PhaseCell, len(imGaps))
		for j, gap := range imGaps {
			o.Phase.Cells[i][j].Predicted = imFails(imServerIdle, idle, gap)
			jobs = append(jobs, job{row: fastRow("sweep", true, 0, idle, gap), cell: &o.Phase.Cells[i][j], ci: i, run: fastRun(true, 0, idle, gap)})
		}
	}
	named := []job{
		{row: fastRow("before", true, 0, 0, imGapFail), run: fastRun(true, 0, 0, imGapFail)},
		{row: fastRow("also", false, 0, 0, imGapFail), run: fastRun(false, 0, 0, imGapFail)},
		{row: fastRow("after", true, 0, imFixIdle, imGapFail), run: fastRun(true, 0, imFixIdle, imGapFail)},
	}
	for _, idle := range []time.Duration{90 * time.Second, imFixIdle} {
		r := &Row{Role: "also", Config: fmt.Sprintf("net/http Transport IdleConnTimeout=%v, POST, %v gaps", idle, imGapFail),
			Client: ClientConfig{Client: "nethttp", ServerIdle: imServerIdle, ClientIdle: idle, Concurrency: 1, MaxIdleConnsPerHost: 2, DrainsBody: true}}
		named = append(named, job{row: r, run: func(l *lab, t *tally, probes *[]imProbe) error {
			tr := transport(l.dial())
			tr.IdleConnTimeout = idle
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			return paced(ctx, imGapFail, t, probes, l, func() error {
				req, err := http.NewRequestWithContext(l.ctx(ctx), http.MethodPost, l.url(), strings.NewReader("payload"))
				if err != nil {
					return err
				}
				resp, err := c.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return errors.New(resp.Status)
				}
				return nil
			})
		}})
	}
	jobs = append(jobs, named...)
	// Every job has its own server, so all run at once: the run takes the
	// longest job's time, not the sum.
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i := range jobs {
		j := &jobs[i]
		wg.Go(func() {
			l, err := newLabEvery(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, func(s *fasthttp.Server) { s.IdleTimeout = imServerIdle }, 0)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = j.run(l, newTally(j.row), &j.probes)
			l.finish(j.row)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, j := range jobs {
		r := j.row
		cw := r.Sockets.Peak(func(s observe.Snapshot) int { return s.Client.CloseWait })
		if j.cell != nil {
			*j.cell = PhaseCell{Requests: r.Requests, Failed: r.Failed(), DeadReuses: r.Conns.DeadReuses, Dials: r.Dials, CloseWait: cw, Predicted: j.cell.Predicted, Errors: r.Errors}
			for _, p := range j.probes {
				switch imJudge(imServerIdle, idleOf(o.Phase.ClientIdles[j.ci]), p.idle) {
				case judgeFail:
					if !p.failed {
						j.cell.Misplaced++
					}
				case judgeOK:
					if p.failed {
						j.cell.Misplaced++
					}
				default:
					j.cell.Unjudged++
				}
			}
			continue
		}
		if r.Role == "after" {
			// The fix's client idle is below the server's: a request can
			// only meet a closed connection if it came after the server's
			// idle and fasthttp's cleaner goroutine, starved, had not yet
			// dropped the connection. Count those apart.
			for _, p := range j.probes {
				if p.failed && p.idle > imServerIdle && r.Errors["conn_closed"] > 0 {
					r.Errors["conn_closed"]--
					r.Errors["cleaner_late"]++
				}
			}
			if r.Errors["conn_closed"] == 0 {
				delete(r.Errors, "conn_closed")
			}
		}
		o.Rows = append(o.Rows, *r)
		o.Facts = append(o.Facts, fmt.Sprintf("%s, %s: %d of %d failed; %d requests went out on a connection the server had closed; client sockets in CLOSE_WAIT peaked at %d; %d dials",
			r.Role, r.Config, r.Failed(), r.Requests, r.Conns.DeadReuses, cw, r.Dials))
	}
	return o, nil
}

// paced sends imRequests requests gap apart, one at a time, sampling the
// lab's sockets ahead of each (the pooled connection's state at the moment
// it is taken) and recording each request's idle time as the server saw
// it: since the server wrote its last response, where its idle timer
// starts (the client's own clock would add its scheduling delays).
func paced(ctx context.Context, gap time.Duration, t *tally, probes *[]imProbe, l *lab, do func() error) error {
	fresh := true
	for i := range imRequests {
		if i > 0 {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		l.watch.Sample()
		t0 := time.Now()
		// The pooled connection's idle time; with none in the pool (the
		// first request, or after a failure closed it) the request dials: 0.
		var idle time.Duration
		if !fresh {
			idle = t0.Sub(l.server.LastWrite())
		}
		err := do()
		fresh = err != nil
		t.add(err, "", t0)
		*probes = append(*probes, imProbe{idle: idle, failed: err != nil})
	}
	t.finish()
	return nil
}

// Diagnose implements Scenario: a client that keeps idle connections at
// least as long as the server (fasthttp unset = 10 s; net/http 0 = forever).
func (s IdleMismatch) Diagnose(c ClientConfig) []Exposure {
	if c.ServerIdle <= 0 {
		return nil
	}
	if !c.fast() {
		if c.idlePerHost() < 0 || (c.ClientIdle > 0 && c.ClientIdle < c.ServerIdle) {
			return nil
		}
		idle := "IdleConnTimeout=0 (never)"
		if c.ClientIdle > 0 {
			idle = fmt.Sprintf("IdleConnTimeout=%v", c.ClientIdle)
		}
		return expose(s, "%s ≥ server idle %v: the background reader drops most closed connections, but a request racing the server's close fails (\"server closed idle connection\") and only idempotent ones are retried; set IdleConnTimeout below %v", idle, c.ServerIdle, c.ServerIdle)
	}
	idle := idleOf(c.ClientIdle)
	if idle < c.ServerIdle {
		return nil
	}
	if c.retries() {
		return expose(s, "client idle %v ≥ server idle %v: every request after a pause between them is sent on a closed (CLOSE_WAIT) connection and retried on a new dial (hidden); set MaxIdleConnDuration below %v", idle, c.ServerIdle, c.ServerIdle)
	}
	return expose(s, "client idle %v ≥ server idle %v and requests are not retried: ErrConnectionClosed after pauses between them; set MaxIdleConnDuration below %v", idle, c.ServerIdle, c.ServerIdle)
}

// Check implements Scenario: every phase cell fails exactly where the rule
// says (client idle > server idle, gap between them), with the mechanism
// seen — a request sent on a connection the server had closed — and the
// fixed client idle has no failing cell. net/http with the same mismatch
// has no error: its background reader dropped the closed connection.
func (IdleMismatch) Check(o *Outcome) error {
	p := o.Phase
	failedInRegion := 0
	for i, idle := range p.ClientIdles {
		for j, gap := range p.Gaps {
			c := p.Cells[i][j]
			if c.Misplaced != 0 {
				return fmt.Errorf("phase client idle %v, gap %v: %d of %d requests contradict the rule at their measured idle time (errors %v, %d dead reuses)", idleOf(idle), gap, c.Misplaced, c.Requests, c.Errors, c.DeadReuses)
			}
			if c.Predicted {
				failedInRegion += c.Failed
				if c.Failed > 0 && c.DeadReuses == 0 {
					return fmt.Errorf("phase client idle %v, gap %v: %d failed but no request went out on a closed connection: another cause", idleOf(idle), gap, c.Failed)
				}
			}
		}
	}
	if failedInRegion == 0 {
		return errors.New("phase: no request failed in the predicted region: the mismatch did not reproduce")
	}
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["conn_closed"] == 0 || b.Conns.DeadReuses == 0 {
		return fmt.Errorf("before: %d ErrConnectionClosed in %d POSTs, %d dead reuses (errors %v): the failure did not reproduce", b.Errors["conn_closed"], b.Requests, b.Conns.DeadReuses, b.Errors)
	}
	if b.Sockets.Peak(func(s observe.Snapshot) int { return s.Client.CloseWait }) == 0 {
		return errors.New("before: no client socket seen in CLOSE_WAIT: the server's close did not sit in the client's pool")
	}
	get := o.Rows[1]
	if get.Failed() != 0 || get.Conns.DeadReuses == 0 || get.Dials < imRequests {
		return fmt.Errorf("GET with default retries: %d errors, %d dead reuses, %d dials: want no errors, a dead reuse and a hidden redial per request", get.Failed(), get.Conns.DeadReuses, get.Dials)
	}
	if a.Failed() != a.Errors["cleaner_late"] || a.OK == 0 {
		return fmt.Errorf("after: %d of %d ok, errors %v: a shorter client idle duration did not fix it", a.OK, imRequests, a.Errors)
	}
	nh := o.Rows[3]
	if nh.Failed() != 0 || nh.Trace.Reused != 0 || nh.Conns.DeadReuses != 0 {
		return fmt.Errorf("net/http: %d errors, %d reused, %d dead reuses: want its background reader to drop the closed connection (no reuse, no error)", nh.Failed(), nh.Trace.Reused, nh.Conns.DeadReuses)
	}
	return nil
}
