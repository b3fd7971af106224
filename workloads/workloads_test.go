package workloads_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/driver"
)

// closeWatch wraps a listener and records, for every connection the server
// closes, whether the client had closed its side first (the server read EOF).
type closeWatch struct {
	net.Listener
	accepted, clientFirst, serverFirst atomic.Int64
}

func (w *closeWatch) Accept() (net.Conn, error) {
	c, err := w.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w.accepted.Add(1)
	return &watchedConn{Conn: c, w: w}, nil
}

type watchedConn struct {
	net.Conn
	w      *closeWatch
	eof    atomic.Bool
	closed sync.Once
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if errors.Is(err, io.EOF) {
		c.eof.Store(true)
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.closed.Do(func() {
		if c.eof.Load() {
			c.w.clientFirst.Add(1)
		} else {
			c.w.serverFirst.Add(1)
		}
	})
	return c.Conn.Close()
}

// serve starts model m on loopback behind a closeWatch.
func serve(t *testing.T, m servers.Model) (*closeWatch, *app.Handler, workloads.Dialer) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &closeWatch{Listener: ln}
	h := app.NewHandler(app.AllOn)
	srv := servers.Start(m, servers.Config{Handler: h}, w)
	t.Cleanup(func() {
		if err := srv.Stop(5 * time.Second); err != nil {
			t.Errorf("stopping %s: %v", m.Name, err)
		}
	})
	addr := ln.Addr().String()
	return w, h, func() (net.Conn, error) { return net.Dial("tcp4", addr) }
}

func lookup(t *testing.T, name string) servers.Model {
	t.Helper()
	m, err := servers.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func plaintext() *driver.Request {
	return driver.NewGET("poolbench", app.PlaintextPath, 200, len(app.HelloWorld))
}

func TestKeepaliveCountsExactly(t *testing.T) {
	t.Parallel()
	for _, m := range servers.Models.All() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			w, h, dial := serve(t, m)
			started := false
			res, err := workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{
				Conns: 8, Requests: 1000, Request: plaintext(), Latency: true,
				OnStart: func() { started = true },
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 1000 || res.Errors.Total() != 0 || h.Served() != 1000 {
				t.Fatalf("ok=%d errors=%v served=%d, want 1000 ok, no errors, 1000 served", res.OK, res.Errors, h.Served())
			}
			if res.Dials != 8 || w.accepted.Load() != 8 {
				t.Errorf("dials=%d accepted=%d, want 8 keep-alive connections", res.Dials, w.accepted.Load())
			}
			if !started || res.Latency.TotalCount() != 1000 {
				t.Errorf("OnStart called: %v; latencies recorded: %d, want true, 1000", started, res.Latency.TotalCount())
			}
		})
	}
}

func TestShortlivedClientCloses(t *testing.T) {
	t.Parallel()
	for _, m := range servers.Models.All() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			w, h, dial := serve(t, m)
			res, err := workloads.Shortlived{}.Run(context.Background(), dial, workloads.Plan{
				Conns: 4, Requests: 200, Request: plaintext(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != 200 || res.Dials != 200 || h.Served() != 200 {
				t.Fatalf("ok=%d dials=%d served=%d, want 200 of each: one request per connection", res.OK, res.Dials, h.Served())
			}
			deadline := time.Now().Add(5 * time.Second)
			for w.clientFirst.Load()+w.serverFirst.Load() < 200 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := w.clientFirst.Load(); got != 200 || w.serverFirst.Load() != 0 {
				t.Fatalf("connections closed by the client first: %d, by the server first: %d; want 200 and 0", got, w.serverFirst.Load())
			}
		})
	}
}

func TestDriverFlagsWrongAnswers(t *testing.T) {
	t.Parallel()
	_, _, dial := serve(t, servers.Models.All()[0])
	bad := driver.NewGET("poolbench", "/app/nowhere", 200, -1)
	res, err := workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{Conns: 2, Requests: 50, Request: bad})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Errors.Status != 50 {
		t.Fatalf("ok=%d errors=%v, want every one of 50 requests counted as a status error", res.OK, res.Errors)
	}
	short := driver.NewGET("poolbench", app.PlaintextPath, 200, len(app.HelloWorld)+1)
	res, _ = workloads.Keepalive{}.Run(context.Background(), dial, workloads.Plan{Conns: 1, Requests: 10, Request: short})
	if res.OK != 0 || res.Errors.BodyLen != 10 {
		t.Fatalf("ok=%d errors=%v, want 10 body-length errors", res.OK, res.Errors)
	}
}

func TestPlanValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []workloads.Plan{
		{Conns: 0, Requests: 1, Request: plaintext()},
		{Conns: 1, Request: plaintext()},
		{Conns: 1, Requests: 1},
	} {
		if _, err := (workloads.Keepalive{}).Run(context.Background(), nil, p); err == nil {
			t.Errorf("Run(%+v) succeeded, want a validation error", p)
		}
	}
	if _, err := workloads.Lookup("bursty2"); err == nil {
		t.Error("Lookup(bursty2) succeeded, want an error")
	}
}
