package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// RequestCtxEscape: a fasthttp handler that hands the request body (a slice
// of the RequestCtx's buffer) to a goroutine outliving the handler reads
// memory fasthttp has already reused for the next request on that
// connection. Content checks catch the corruption (the race detector does
// too); copying the body first fixes it.
type RequestCtxEscape struct {
	// SkipBefore skips the racy config: under -race it would fail the run.
	SkipBefore bool
}

var _ Scenario = RequestCtxEscape{}

// Name implements Scenario.
func (RequestCtxEscape) Name() string { return "requestctx_escape" }

// Problem implements Scenario.
func (RequestCtxEscape) Problem() string {
	return "a fasthttp handler passes ctx.PostBody() to a goroutine that reads it after the handler returns: it sees the next request's bytes"
}

// Fix implements Scenario.
func (RequestCtxEscape) Fix() string {
	return "copy first: body := append([]byte(nil), ctx.PostBody()...) before the goroutine starts"
}

const reqs = 300

// Run implements Scenario.
func (s RequestCtxEscape) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, copyFirst := range []bool{false, true} {
		if !copyFirst && s.SkipBefore {
			o.Facts = append(o.Facts, "before: skipped (built with -race, which would report the data race and fail the run)")
			continue
		}
		var corrupted, checked atomic.Int64
		var wg sync.WaitGroup
		l, err := newLab(func(rc *fasthttp.RequestCtx) {
			body := rc.PostBody()
			if copyFirst {
				body = append([]byte(nil), body...)
			}
			want := string(rc.Request.Header.Peek("X-Body"))
			wg.Add(1)
			go func(b []byte) {
				defer wg.Done()
				time.Sleep(time.Millisecond)
				checked.Add(1)
				if !bytes.Equal(b, []byte(want)) {
					corrupted.Add(1)
				}
			}(body)
			rc.SetBodyString("ok")
		}, nil)
		if err != nil {
			return nil, err
		}
		row := Row{Role: "before", Config: "handler hands ctx.PostBody() to a goroutine"}
		if copyFirst {
			row.Role, row.Config = "after", "handler copies the body, then hands the copy to a goroutine"
		}
		hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxConns: 1, Dial: l.fastDial()}
		t := newTally(&row)
		for i := range reqs {
			if ctx.Err() != nil {
				break
			}
			body := "payload-" + strconv.Itoa(i*7919%100000)
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI(l.url())
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.Set("X-Body", body)
			req.SetBodyString(body)
			t0 := time.Now()
			t.add(hc.Do(req, resp), "", t0)
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
		t.finish()
		wg.Wait()
		hc.CloseIdleConnections()
		l.finish(&row)
		if n := corrupted.Load(); n > 0 {
			row.Errors["corrupted_body"] = int(n)
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d of %d bodies read after the handler returned differed from what the client sent", row.Role, corrupted.Load(), checked.Load()))
	}
	return o, nil
}

// Diagnose implements Scenario: code, not configuration; no rule.
func (RequestCtxEscape) Diagnose(ClientConfig) []Exposure { return nil }

// Check implements Scenario.
func (s RequestCtxEscape) Check(o *Outcome) error {
	if b := o.Row("before"); b != nil && b.Errors["corrupted_body"] == 0 {
		return fmt.Errorf("before: no corrupted body in %d requests: the failure did not reproduce", b.Requests)
	} else if b == nil && !s.SkipBefore {
		return fmt.Errorf("before: no row")
	}
	a := o.Row("after")
	if a.Failed() != 0 || a.OK != reqs {
		return fmt.Errorf("after: %d of %d ok, errors %v: copying did not fix it", a.OK, reqs, a.Errors)
	}
	return nil
}
