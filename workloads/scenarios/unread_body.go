package scenarios

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// UnreadBody: a net/http client that closes a response body without reading
// it to the end loses the connection: the transport cannot reuse a
// connection with unread bytes on it, so every request dials.
type UnreadBody struct{}

var _ Scenario = UnreadBody{}

// Name implements Scenario.
func (UnreadBody) Name() string { return "unread_body" }

// Problem implements Scenario.
func (UnreadBody) Problem() string {
	return "net/http: resp.Body.Close() without reading a 64 KiB body: the connection is not reused, every request dials"
}

// Fix implements Scenario.
func (UnreadBody) Fix() string {
	return "io.Copy(io.Discard, resp.Body) before resp.Body.Close(): the connection goes back to the pool"
}

const ubWorkers, ubPer = 4, 50

// Run implements Scenario.
func (UnreadBody) Run(ctx context.Context) (*Outcome, error) {
	body := strings.Repeat("x", 64<<10)
	o := &Outcome{}
	for _, drain := range []bool{false, true} {
		row := Row{Role: "before", Config: "net/http Transport (MaxIdleConnsPerHost=4), Body.Close() without reading",
			Client: ClientConfig{Client: "nethttp", MaxIdleConnsPerHost: ubWorkers, Concurrency: ubWorkers, DrainsBody: drain, Idempotent: true}}
		if drain {
			row.Role, row.Config = "after", "net/http Transport (MaxIdleConnsPerHost=4), io.Copy(io.Discard, Body) then Close()"
		}
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(body) }, &row, func(l *lab, t *tally) error {
			tr := transport(l.dial())
			tr.MaxIdleConnsPerHost = ubWorkers
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			return hammer(ctx, ubWorkers, ubPer, t, func() (error, string) {
				req, err := http.NewRequestWithContext(l.ctx(ctx), http.MethodGet, l.url(), nil)
				if err != nil {
					return err, ""
				}
				resp, err := c.Do(req)
				if err != nil {
					return err, ""
				}
				if drain {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
				}
				resp.Body.Close()
				return nil, ""
			})
		})
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
	}
	return o, nil
}

// Diagnose implements Scenario.
func (s UnreadBody) Diagnose(c ClientConfig) []Exposure {
	if c.fast() || c.DrainsBody {
		return nil
	}
	return expose(s, "response bodies closed unread: the connection cannot be reused; io.Copy(io.Discard, resp.Body) before Close")
}

// Check implements Scenario: before, no request reuses a connection;
// after, nearly all do (dials ≪ requests). net/http may race a new dial
// against a connection on its way back to the pool, so the after check is
// reuse, not an exact dial count.
func (UnreadBody) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Dials < int64(b.Requests)*9/10 || b.Trace.Reused*10 > b.Trace.Got {
		return fmt.Errorf("before: %d dials, %d of %d requests reused: want nearly one dial per request and no reuse", b.Dials, b.Trace.Reused, b.Trace.Got)
	}
	if a.Failed() != 0 || a.Dials*5 > int64(a.Requests) || a.Trace.Reused*10 < a.Trace.Got*8 {
		return fmt.Errorf("after: %d dials for %d requests, %d of %d reused, errors %v: want dials under a fifth of requests and 80%% reused", a.Dials, a.Requests, a.Trace.Reused, a.Trace.Got, a.Errors)
	}
	return nil
}
