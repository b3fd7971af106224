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

// Markdown renders the phase table.
func (p *Phase) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "POSTs after a gap, server idle %v: failed/requests (dead reuses, client CLOSE_WAIT peak); ✗ where the rule predicts failure\n\n| client idle \\\\ gap |", p.ServerIdle)
	for _, g := range p.Gaps {
		fmt.Fprintf(&b, " %v |", g)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(p.Gaps)) + "\n")
	for i, idle := range p.ClientIdles {
		name := idle.String()
		if idle == 0 {
			name = "unset (10s)"
		}
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range p.Cells[i] {
			mark := ""
			if c.Predicted {
				mark = " ✗"
			}
			fmt.Fprintf(&b, " %d/%d (%d, %d)%s |", c.Failed, c.Requests, c.DeadReuses, c.CloseWait, mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Run implements Scenario.
func (IdleMismatch) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{Phase: &Phase{ServerIdle: imServerIdle, Gaps: imGaps, ClientIdles: imIdles}}
	type job struct {
		row  *Row
		cell *PhaseCell
		run  func(*lab, *tally) error
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
	fastRun := func(post bool, attempts int, idle, gap time.Duration) func(*lab, *tally) error {
		return func(l *lab, t *tally) error {
			hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxIdleConnDuration: idle, MaxIdemponentCallAttempts: attempts, Dial: l.fastDial()}
			defer hc.CloseIdleConnections()
			return paced(ctx, gap, t, func() error {
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
			jobs = append(jobs, job{row: fastRow("sweep", true, 0, idle, gap), cell: &o.Phase.Cells[i][j], run: fastRun(true, 0, idle, gap)})
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
		named = append(named, job{row: r, run: func(l *lab, t *tally) error {
			tr := transport(l.dial())
			tr.IdleConnTimeout = idle
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			return paced(ctx, imGapFail, t, func() error {
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
	for i, j := range jobs {
		wg.Go(func() {
			l, err := newLab(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }, func(s *fasthttp.Server) { s.IdleTimeout = imServerIdle })
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = j.run(l, newTally(j.row))
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
			*j.cell = PhaseCell{Requests: r.Requests, Failed: r.Failed(), DeadReuses: r.Conns.DeadReuses, Dials: r.Dials, CloseWait: cw, Predicted: j.cell.Predicted}
			continue
		}
		o.Rows = append(o.Rows, *r)
		o.Facts = append(o.Facts, fmt.Sprintf("%s, %s: %d of %d failed; %d requests went out on a connection the server had closed; client sockets in CLOSE_WAIT peaked at %d; %d dials",
			r.Role, r.Config, r.Failed(), r.Requests, r.Conns.DeadReuses, cw, r.Dials))
	}
	return o, nil
}

// paced sends imRequests requests gap apart, one at a time.
func paced(ctx context.Context, gap time.Duration, t *tally, do func() error) error {
	for i := range imRequests {
		if i > 0 {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		t0 := time.Now()
		t.add(do(), "", t0)
	}
	t.finish()
	return nil
}

// Check implements Scenario: every phase cell fails exactly where the rule
// says (client idle > server idle, gap between them), with the mechanism
// seen — a request sent on a connection the server had closed — and the
// fixed client idle has no failing cell. net/http with the same mismatch
// has no error: its background reader dropped the closed connection.
func (IdleMismatch) Check(o *Outcome) error {
	p := o.Phase
	for i, idle := range p.ClientIdles {
		for j, gap := range p.Gaps {
			c := p.Cells[i][j]
			switch {
			case c.Predicted && (c.Failed == 0 || c.DeadReuses == 0):
				return fmt.Errorf("phase client idle %v, gap %v: %d of %d failed, %d dead reuses: want failures on connections the server had closed", idleOf(idle), gap, c.Failed, c.Requests, c.DeadReuses)
			case !c.Predicted && c.Failed != 0:
				return fmt.Errorf("phase client idle %v, gap %v: %d of %d failed outside the predicted region", idleOf(idle), gap, c.Failed, c.Requests)
			}
		}
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
	if a.Failed() != 0 || a.OK != imRequests {
		return fmt.Errorf("after: %d of %d ok, errors %v: a shorter client idle duration did not fix it", a.OK, imRequests, a.Errors)
	}
	nh := o.Rows[3]
	if nh.Failed() != 0 || nh.Trace.Reused != 0 || nh.Conns.DeadReuses != 0 {
		return fmt.Errorf("net/http: %d errors, %d reused, %d dead reuses: want its background reader to drop the closed connection (no reuse, no error)", nh.Failed(), nh.Trace.Reused, nh.Conns.DeadReuses)
	}
	return nil
}
