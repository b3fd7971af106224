//go:build !fasthttp_old

package scenarios

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads/observe"
)

// RetryDuplicates: "the server closed connection before returning the
// first response byte" does not say whether the server ran the request. A
// server that runs the handler and then loses the connection (a crash, a
// restart, a proxy dropping it) makes the caller choose: fasthttp's
// default surfaces the error for a POST (and retries a GET silently); a
// RetryIfErr (or the deprecated RetryIf) that retries it runs the POST
// twice on the server. Counting request ids on the server shows the
// duplicates. The fix keeps the retry but makes it safe: the server
// deduplicates by the request id (an idempotency key), so a retried POST
// is answered without running twice.
type RetryDuplicates struct{}

var _ Scenario = RetryDuplicates{}

// Name implements Scenario.
func (RetryDuplicates) Name() string { return "retry_duplicates" }

// Problem implements Scenario.
func (RetryDuplicates) Problem() string {
	return "the server runs each request, then drops the connection before answering: the default policy shows POSTs as failed (work done); RetryIfErr retries them and the server runs every POST twice"
}

// Fix implements Scenario.
func (RetryDuplicates) Fix() string {
	return "retry non-idempotent requests only with an idempotency key the server deduplicates (X-Request-Id here): one execution per request"
}

const rdRequests = 10

// Run implements Scenario.
func (RetryDuplicates) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	retryAll := func(*fasthttp.Request, int, error) (bool, bool) { return false, true }
	for _, c := range []struct {
		role, desc string
		post       bool
		retryErr   fasthttp.RetryIfErrFunc
		retryIf    fasthttp.RetryIfFunc
		dedup      bool
	}{
		{"before", "POST, RetryIfErr retries every error", true, retryAll, nil, false},
		{"also", "POST, default policy (non-idempotent: no retry)", true, nil, nil, false},
		{"also", "POST, RetryIf (deprecated) returns true", true, nil, func(*fasthttp.Request) bool { return true }, false},
		{"also", "GET, default policy (idempotent: retried)", false, nil, nil, false},
		{"after", "POST, RetryIfErr retries every error; server deduplicates by X-Request-Id", true, retryAll, nil, true},
	} {
		row := Row{Role: c.role, Config: "fasthttp HostClient " + c.desc,
			Client: ClientConfig{Client: "fasthttp_host", Concurrency: 1, Idempotent: !c.post, RetryNonIdempotent: c.retryErr != nil || c.retryIf != nil, ServerDedups: c.dedup}}
		var executed executions
		var seen sync.Map // id → seen once (the drop happens on the first attempt)
		handler := func(rc *fasthttp.RequestCtx) {
			id := string(rc.Request.Header.Peek(observe.RequestID))
			executed.run(id, c.dedup)
			if _, again := seen.LoadOrStore(id, true); !again {
				rc.HijackSetNoResponse(true)
				rc.Hijack(func(net.Conn) {}) // the connection is closed, no response
				return
			}
			rc.SetBodyString("ok")
		}
		err := onFreshServer(handler, &row, func(l *lab, t *tally) error {
			hc := &fasthttp.HostClient{Addr: l.srv.Addr, RetryIfErr: c.retryErr, RetryIf: c.retryIf, Dial: l.fastDial()}
			defer hc.CloseIdleConnections()
			for i := range rdRequests {
				req, resp := newRequest(l.url(), strconv.Itoa(i), c.post), fasthttp.AcquireResponse()
				t0 := time.Now()
				t.add(hc.Do(req, resp), "", t0)
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(resp)
			}
			t.finish()
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n := int(executed.n.Load()) - rdRequests; n > 0 {
			row.Errors["server_ran_twice"] = n
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: %d of %d requests failed for the caller; the server saw %d duplicate ids and ran the handler's work %d times",
			c.desc, row.Failed()-row.Errors["server_ran_twice"], row.Requests, row.Server.Duplicates, executed.n.Load()))
	}
	return o, nil
}

// executions counts a handler's side effect per request id: once per id
// where the server deduplicates (an idempotency key), every time otherwise.
type executions struct {
	done sync.Map // id → ran (the dedup store)
	n    atomic.Int64
}

// run records the work for id unless dedup finds it done.
func (e *executions) run(id string, dedup bool) {
	if _, dup := e.done.LoadOrStore(id, true); !(dedup && dup) {
		e.n.Add(1)
	}
}

// newRequest is a request for url carrying id (observe.RequestID): a POST
// with a body if post, else a GET. Release it with fasthttp.ReleaseRequest.
func newRequest(url, id string, post bool) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(url)
	req.Header.Set(observe.RequestID, id)
	if post {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetBodyString("order")
	}
	return req
}

// Diagnose implements Scenario.
func (s RetryDuplicates) Diagnose(c ClientConfig) []Exposure {
	if !c.fast() || !c.RetryNonIdempotent || c.ServerDedups {
		return nil
	}
	return expose(s, "RetryIfErr/RetryIf retries non-idempotent requests: when the server ran a request and lost the connection before answering, it runs twice; send an idempotency key the server deduplicates, or retry only idempotent requests")
}

// Check implements Scenario.
func (RetryDuplicates) Check(o *Outcome) error {
	b, def, a := o.Row("before"), o.Rows[1], o.Row("after")
	if b.Failed() != b.Errors["server_ran_twice"] || b.Errors["server_ran_twice"] != rdRequests || b.Server.Duplicates != rdRequests {
		return fmt.Errorf("before: errors %v, %d duplicate ids: want no error for the caller and every POST run twice", b.Errors, b.Server.Duplicates)
	}
	if def.Errors["conn_closed"] != rdRequests || def.Server.Duplicates != 0 {
		return fmt.Errorf("default policy: errors %v, %d duplicates: want every POST to fail with the connection closed and none retried", def.Errors, def.Server.Duplicates)
	}
	if a.Failed() != 0 || a.Server.Duplicates != rdRequests {
		return fmt.Errorf("after: errors %v, %d duplicate ids: want every POST retried (duplicates seen) and run once", a.Errors, a.Server.Duplicates)
	}
	return nil
}
