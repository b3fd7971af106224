//go:build !fasthttp_old

package scenarios

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/valyala/fasthttp"
)

// StreamUnclosed: with StreamResponseBody, a fasthttp response's body is
// read from the connection as the caller reads BodyStream, so the
// connection stays with the response until its stream is closed
// (CloseBodyStream, or ReleaseResponse which resets it). Code that reads
// part of the stream and keeps the response holds the connection: with
// MaxConns connections held, the next call fails with ErrNoFreeConns and
// never reaches the server. Reading the body to the end and releasing the
// response returns the connection to the pool.
type StreamUnclosed struct{}

var _ Scenario = StreamUnclosed{}

// Name implements Scenario.
func (StreamUnclosed) Name() string { return "stream_unclosed" }

// Problem implements Scenario.
func (StreamUnclosed) Problem() string {
	return fmt.Sprintf("fasthttp HostClient StreamResponseBody=true, MaxConns=%d: a %d KiB body read in part and the response kept: the connection stays busy, the next calls fail with \"no free connections available to host\"", suConns, suBody>>10)
}

// Fix implements Scenario.
func (StreamUnclosed) Fix() string {
	return "read the BodyStream to the end, then CloseBodyStream/ReleaseResponse: the connection goes back to the pool"
}

const (
	suConns    = 1
	suRequests = 6
	suBody     = 1 << 20
)

// Run implements Scenario.
func (StreamUnclosed) Run(ctx context.Context) (*Outcome, error) {
	body := strings.Repeat("x", suBody)
	o := &Outcome{}
	for _, closes := range []bool{false, true} {
		row := Row{Role: "before", Config: fmt.Sprintf("HostClient StreamResponseBody, MaxConns=%d; 1 KiB read, response kept", suConns),
			Client: ClientConfig{Client: "fasthttp_host", MaxConns: suConns, Concurrency: 1, Idempotent: true, StreamsBody: true}}
		if closes {
			row.Role, row.Config = "after", fmt.Sprintf("HostClient StreamResponseBody, MaxConns=%d; body read to the end, ReleaseResponse", suConns)
			row.Client.DrainsBody = true
		}
		var kept []*fasthttp.Response
		err := onFreshServer(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(body) }, &row, func(l *lab, t *tally) error {
			hc := &fasthttp.HostClient{Addr: l.srv.Addr, MaxConns: suConns, StreamResponseBody: true, Dial: l.fastDial()}
			defer hc.CloseIdleConnections()
			return hammer(ctx, 1, suRequests, t, func() (error, string) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				req.SetRequestURI(l.url())
				if err := hc.Do(req, resp); err != nil {
					fasthttp.ReleaseResponse(resp)
					return err, ""
				}
				if !closes {
					_, err := io.CopyN(io.Discard, resp.BodyStream(), 1<<10)
					kept = append(kept, resp) // the caller keeps it: the stream stays open
					return err, ""
				}
				_, err := io.Copy(io.Discard, resp.BodyStream())
				fasthttp.ReleaseResponse(resp)
				return err, ""
			})
		})
		for _, r := range kept {
			fasthttp.ReleaseResponse(r)
		}
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: the server served %d of %d requests; %d dials, %d reused", row.Role, row.Server.Served, row.Requests, row.Dials, row.Conns.Reuses))
	}
	return o, nil
}

// Diagnose implements Scenario.
func (s StreamUnclosed) Diagnose(c ClientConfig) []Exposure {
	if !c.fast() || !c.StreamsBody || c.DrainsBody {
		return nil
	}
	return expose(s, "StreamResponseBody with streams not read to the end and closed: each open response holds a connection until ErrNoFreeConns; read BodyStream to EOF and CloseBodyStream/ReleaseResponse")
}

// Check implements Scenario: before, the kept stream holds the only
// connection, so later calls fail without reaching the server; after, one
// connection serves every request.
func (StreamUnclosed) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["no_free_conns"] < suRequests-2 || b.Server.Served > 2 {
		return fmt.Errorf("before: errors %v, the server served %d: want ErrNoFreeConns for the calls after the first, which never reach the server", b.Errors, b.Server.Served)
	}
	if a.Failed() != 0 || a.Dials != 1 || a.Server.Served != suRequests {
		return fmt.Errorf("after: errors %v, %d dials, %d served: want every request served on one connection", a.Errors, a.Dials, a.Server.Served)
	}
	return nil
}
