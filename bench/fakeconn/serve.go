package fakeconn

import (
	"fmt"
	"time"

	"github.com/poolbench/poolbench/servers"
)

// Timer is the part of *testing.B that Serve pauses while the server shuts
// down; nil times nothing.
type Timer interface {
	StopTimer()
	StartTimer()
}

// Shapes name the two request shapes of fasthttp's suite.
const (
	// OneRequestPerConn is the short-lived shape (Get1ReqPerConn).
	OneRequestPerConn = 1
	// TenKRequestsPerConn is the keep-alive shape (Get10KReqPerConn).
	TenKRequestsPerConn = 10000
)

// Serve serves p.Requests requests with a new server of model m on a fake
// listener replaying p, and checks that every request was answered with a
// complete response of p.Status and, when cfg.Handler is set, that the app
// counted every one. t, if not nil, is stopped while the server shuts down.
func Serve(t Timer, m servers.Model, cfg servers.Config, p Plan) (Counts, error) {
	ln, err := NewListener(p)
	if err != nil {
		return Counts{}, err
	}
	var before uint64
	if cfg.Handler != nil {
		before = cfg.Handler.Served()
	}
	srv := servers.Start(m, cfg, ln)
	var serveErr error
	select {
	case <-ln.Done():
	case serveErr = <-srv.Done():
		if serveErr == nil {
			serveErr = fmt.Errorf("server stopped serving before the last connection closed")
		}
	case <-time.After(time.Minute):
		serveErr = fmt.Errorf("no end after a minute")
	}
	if t != nil {
		t.StopTimer()
		defer t.StartTimer()
	}
	if serveErr == nil {
		serveErr = srv.Stop(10 * time.Second)
	} else {
		srv.Stop(time.Second) //nolint:errcheck // the first error says more
	}
	c := ln.Counts()
	switch {
	case serveErr != nil:
		return c, fmt.Errorf("fakeconn: %s: %w (counts %+v)", m.Name, serveErr, c)
	case c.Errors > 0:
		return c, fmt.Errorf("fakeconn: %s: %d of %d connections broke the plan; first: %w", m.Name, c.Errors, c.Conns, c.FirstError)
	case c.Requests != int64(p.Requests) || c.Responses != int64(p.Requests):
		return c, fmt.Errorf("fakeconn: %s: %d requests sent and %d responses, want %d of each", m.Name, c.Requests, c.Responses, p.Requests)
	}
	if cfg.Handler != nil {
		if got := cfg.Handler.Served() - before; got != uint64(p.Requests) {
			return c, fmt.Errorf("fakeconn: %s: the app served %d requests, want %d", m.Name, got, p.Requests)
		}
	}
	return c, nil
}
