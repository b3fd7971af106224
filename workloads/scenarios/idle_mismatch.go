package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// IdleMismatch: the server closes keep-alive connections idle for 200 ms, the
// client keeps them for 10 s (fasthttp's default MaxIdleConnDuration), and
// requests come 400 ms apart, so every reuse finds a connection the server
// has closed. Idempotent GETs hide it behind retries (extra dials); a POST,
// or MaxIdemponentCallAttempts=1, fails with ErrConnectionClosed. The fix is
// a client idle duration below the server's.
type IdleMismatch struct{}

var _ Scenario = IdleMismatch{}

// Name implements Scenario.
func (IdleMismatch) Name() string { return "idle_mismatch" }

// Problem implements Scenario.
func (IdleMismatch) Problem() string {
	return "server idle timeout 200 ms < client idle duration 10 s, requests 400 ms apart: POSTs fail with \"the server closed connection before returning the first response byte\"; GETs retry silently"
}

// Fix implements Scenario.
func (IdleMismatch) Fix() string {
	return "client MaxIdleConnDuration (net/http: IdleConnTimeout) below the server's idle timeout: the client drops the connection first"
}

const (
	imServerIdle = 200 * time.Millisecond
	imGap        = 400 * time.Millisecond
	imRequests   = 4
)

// Run implements Scenario.
func (IdleMismatch) Run(ctx context.Context) (*Outcome, error) {
	srv, err := startFast(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		func(s *fasthttp.Server) { s.IdleTimeout = imServerIdle })
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	o := &Outcome{}
	type cfg struct {
		role, desc string
		post       bool
		attempts   int
		idle       time.Duration
	}
	for _, c := range []cfg{
		{"also", "fasthttp HostClient GET, MaxIdleConnDuration=10s (default retries)", false, 0, 10 * time.Second},
		{"before", "fasthttp HostClient POST, MaxIdleConnDuration=10s", true, 0, 10 * time.Second},
		{"also", "fasthttp HostClient GET, MaxIdemponentCallAttempts=1, MaxIdleConnDuration=10s", false, 1, 10 * time.Second},
		{"after", "fasthttp HostClient POST, MaxIdleConnDuration=100ms", true, 0, 100 * time.Millisecond},
	} {
		row := Row{Role: c.role, Config: c.desc, Client: ClientConfig{Client: "fasthttp_host", ServerIdle: imServerIdle,
			ClientIdle: c.idle, Idempotent: !c.post, MaxAttempts: c.attempts, Concurrency: 1, DrainsBody: true}}
		var dials counter
		dial := dials.dialer(srv.Addr)
		hc := &fasthttp.HostClient{Addr: srv.Addr, MaxIdleConnDuration: c.idle, MaxIdemponentCallAttempts: c.attempts,
			Dial: func(string) (net.Conn, error) { return dial() }}
		t := newTally(&row)
		for i := range imRequests {
			if i > 0 {
				select {
				case <-time.After(imGap):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + srv.Addr + "/")
			if c.post {
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetBodyString("payload")
			}
			t0 := time.Now()
			err := hc.Do(req, resp)
			t.add(err, "", t0)
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
		t.finish()
		hc.CloseIdleConnections()
		row.Dials = dials.n.Load()
		o.Rows = append(o.Rows, row)
	}
	nb, na, err := netHTTPIdle(ctx)
	if err != nil {
		return nil, err
	}
	o.Rows = append(o.Rows, nb, na)
	o.Facts = append(o.Facts, fmt.Sprintf("net/http with the same mismatch (POSTs, IdleConnTimeout 90s vs server 200ms): %d errors, %d dials for %d requests: "+
		"its per-connection background reader sees the server's close and drops the connection before reuse", nb.Failed(), nb.Dials, nb.Requests))
	return o, nil
}

// netHTTPIdle runs the same mismatch with net/http on both ends.
func netHTTPIdle(ctx context.Context) (Row, Row, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return Row{}, Row{}, err
	}
	hs := &http.Server{IdleTimeout: imServerIdle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go hs.Serve(ln) //nolint:errcheck
	defer hs.Close()
	addr := ln.Addr().String()
	var rows []Row
	for _, idle := range []time.Duration{90 * time.Second, 100 * time.Millisecond} {
		row := Row{Role: "also", Config: fmt.Sprintf("net/http server IdleTimeout=200ms, Transport IdleConnTimeout=%v, POST", idle),
			Client: ClientConfig{Client: "nethttp", ServerIdle: imServerIdle, ClientIdle: idle, Concurrency: 1, MaxIdleConnsPerHost: 2, DrainsBody: true}}
		var dials counter
		tr := transport(dials.dialer(addr))
		tr.IdleConnTimeout = idle
		c := &http.Client{Transport: tr}
		t := newTally(&row)
		for i := range imRequests {
			if i > 0 {
				select {
				case <-time.After(imGap):
				case <-ctx.Done():
					return Row{}, Row{}, ctx.Err()
				}
			}
			t0 := time.Now()
			resp, err := c.Post("http://"+addr+"/", "text/plain", strings.NewReader("payload"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = errors.New(resp.Status)
				}
			}
			t.add(err, "", t0)
		}
		t.finish()
		tr.CloseIdleConnections()
		row.Dials = dials.n.Load()
		rows = append(rows, row)
	}
	return rows[0], rows[1], nil
}

// Check implements Scenario.
func (IdleMismatch) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["conn_closed"] == 0 {
		return fmt.Errorf("before: no ErrConnectionClosed in %d POSTs (errors %v): the failure did not reproduce", b.Requests, b.Errors)
	}
	get := o.Rows[0]
	if get.Failed() != 0 || get.Dials < imRequests {
		return fmt.Errorf("GET with default retries: %d errors, %d dials: want no errors and a hidden redial per request (%d)", get.Failed(), get.Dials, imRequests)
	}
	if a.Failed() != 0 || a.OK != imRequests {
		return fmt.Errorf("after: %d of %d ok, errors %v: a shorter client idle duration did not fix it", a.OK, imRequests, a.Errors)
	}
	return nil
}
