package fakeconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

// shapes are the two request shapes, named as the matrix names loads, and
// short-lived connections that the server closes on the request's
// Connection: close instead of on EOF.
var shapes = []struct {
	load    string
	perConn int
	close   bool
}{
	{"shortlived", OneRequestPerConn, false},
	{"shortlived_close", OneRequestPerConn, true},
	{"keepalive", TenKRequestsPerConn, false},
}

func TestServeEveryModelAndShape(t *testing.T) {
	t.Parallel()
	for _, m := range servers.Models.All() {
		for _, s := range shapes {
			for _, n := range []int{1, 2, 25, 1000} {
				t.Run(fmt.Sprintf("%s/%s/n=%d", m.Name, s.load, n), func(t *testing.T) {
					t.Parallel()
					perConn := min(s.perConn, 10) // several connections per n
					h := app.NewHandler(app.AllOn)
					p := Plan{Request: NewGET(app.PlaintextPath, s.close), Status: 200, Conns: 3, RequestsPerConn: perConn, Requests: n}
					c, err := Serve(nil, m, servers.Config{Handler: h}, p)
					if err != nil {
						t.Fatal(err)
					}
					wantConns := int64((n + perConn - 1) / perConn)
					if c.Requests != int64(n) || c.Responses != int64(n) || c.Conns != wantConns || h.Served() != uint64(n) {
						t.Errorf("counts %+v, app served %d: want %d requests, responses and served over %d conns", c, h.Served(), n, wantConns)
					}
				})
			}
		}
	}
}

func TestServeReportsWrongStatus(t *testing.T) {
	t.Parallel()
	for _, m := range servers.Models.All() {
		p := Plan{Request: NewGET("/nope", false), Status: 200, Conns: 2, RequestsPerConn: 5, Requests: 20}
		_, err := Serve(nil, m, servers.Config{Handler: app.NewHandler(app.AllOn)}, p)
		if err == nil || !strings.Contains(err.Error(), "status 404, want 200") {
			t.Errorf("%s: Serve of a 404 route = %v, want a status error", m.Name, err)
		}
	}
}

func TestCounterSplitsAndErrors(t *testing.T) {
	t.Parallel()
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!" +
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	stream := strings.Repeat(resp, 3) // 6 responses
	for _, step := range []int{1, 2, 7, 40, len(stream)} {
		var r counter
		r.reset(200, nil)
		for b := []byte(stream); len(b) > 0; {
			n := min(step, len(b))
			r.write(b[:n])
			b = b[n:]
		}
		if r.err != nil || r.responses != 6 || r.inBody || len(r.hdr) != 0 {
			t.Errorf("writes of %d bytes: %d responses, err %v, mid-response %v: want 6 complete", step, r.responses, r.err, r.inBody)
		}
	}
	for name, in := range map[string]string{
		"no length":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"bad length": "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"status":     "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
		"not http":   "SSH-2.0-OpenSSH\r\n\r\n",
	} {
		var r counter
		r.reset(200, nil)
		r.write([]byte(in))
		if r.err == nil || r.responses != 0 {
			t.Errorf("%s: %d responses, err %v: want an error and none counted", name, r.responses, r.err)
		}
	}
}

func TestListenerReplaysAndCloses(t *testing.T) {
	t.Parallel()
	req := []byte("GET / HTTP/1.1\r\n\r\n")
	ln, err := NewListener(Plan{Request: req, Status: 200, Conns: 1, RequestsPerConn: 3, Requests: 4})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != strings.Repeat(string(req), 3) {
		t.Fatalf("first conn read %q, %v: want 3 requests then EOF", got, err)
	}
	c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) //nolint:errcheck
	c.Close()
	if n := ln.Counts(); n.Errors != 1 || !strings.Contains(n.FirstError.Error(), "1 responses to 3 requests") {
		t.Errorf("counts after closing with 1 of 3 responses: %+v, want one error", n)
	}
	c, err = ln.Accept() // the last request
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, _ := c.Read(buf)
	m, _ := c.Read(buf)
	select {
	case <-ln.Done():
		t.Fatal("done before the last connection closed")
	default:
	}
	c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) //nolint:errcheck
	c.Close()
	c.Close()
	<-ln.Done()
	if n != 10 || m != len(req)-10 {
		t.Errorf("reads of a 10-byte buffer returned %d and %d bytes, want 10 and %d", n, m, len(req)-10)
	}
	if got := ln.Counts(); got.Requests != 4 || got.Responses != 2 || got.Conns != 2 || got.Errors != 1 {
		t.Errorf("counts %+v: want 4 requests, 2 responses, 2 conns, 1 error", got)
	}
	go ln.Close()
	if _, err := ln.Accept(); err == nil {
		t.Error("Accept after every request was handed out and Close: nil error, want net.ErrClosed")
	}
}

func TestPlanValidate(t *testing.T) {
	t.Parallel()
	ok := Plan{Request: []byte("GET / HTTP/1.1\r\n\r\n"), Status: 200, Conns: 1, RequestsPerConn: 1, Requests: 1}
	for name, p := range map[string]Plan{
		"no request": {Status: 200, Conns: 1, RequestsPerConn: 1, Requests: 1},
		"status":     {Request: ok.Request, Status: 20, Conns: 1, RequestsPerConn: 1, Requests: 1},
		"conns":      {Request: ok.Request, Status: 200, RequestsPerConn: 1, Requests: 1},
		"per conn":   {Request: ok.Request, Status: 200, Conns: 1, Requests: 1},
		"requests":   {Request: ok.Request, Status: 200, Conns: 1, RequestsPerConn: 1},
	} {
		if _, err := NewListener(p); err == nil {
			t.Errorf("%s: NewListener(%+v) = nil error", name, p)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid plan: %v", err)
	}
}

// TestCounterSkipsOnlyIdenticalHeaders: a header byte-identical to the last
// one parsed is counted without parsing; any other is parsed in full, so a
// changed Content-Length of the same width still frames the stream and a
// changed status is still an error.
func TestCounterSkipsOnlyIdenticalHeaders(t *testing.T) {
	t.Parallel()
	hdr := func(status, n int) string {
		return fmt.Sprintf("HTTP/1.1 %d OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", status, n)
	}
	ok13 := hdr(200, 13) + "Hello, World!"
	ok12 := hdr(200, 12) + "Hello, World"
	var r counter
	r.reset(200, nil)
	r.write([]byte(ok13 + ok13 + ok12 + ok13 + ok12))
	if r.err != nil || r.responses != 5 || r.inBody {
		t.Errorf("13-, 12- and 13-byte bodies behind same-length headers: %d responses, err %v, mid-body %v: want 5 complete",
			r.responses, r.err, r.inBody)
	}
	r.write([]byte(hdr(201, 13) + "Hello, World!"))
	if r.err == nil || !strings.Contains(r.err.Error(), "status 201, want 200") {
		t.Errorf("a 201 after learned 200s: err %v, want a status error", r.err)
	}
}

// TestCloseWakesAccept: Close ends an Accept that waits for a free
// connection, and the server can still close the connection it holds.
func TestCloseWakesAccept(t *testing.T) {
	t.Parallel()
	ln, err := NewListener(Plan{Request: NewGET("/", false), Status: 200, Conns: 1, RequestsPerConn: 1, Requests: 5})
	if err != nil {
		t.Fatal(err)
	}
	held, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		_, err := ln.Accept() // no free connection: waits
		accepted <- err
	}()
	waitBlocked(t, "[chan receive", "fakeconn.(*Listener).Accept")
	ln.Close()
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept waiting during Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waiting 10s after Close")
	}
	closed := make(chan struct{})
	go func() {
		held.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the held connection after Close still blocked after 10s")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

// waitBlocked waits until some goroutine is blocked in state inside fn.
func waitBlocked(t *testing.T, state, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(time.Millisecond) {
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, state) && strings.Contains(g, fn) {
				return
			}
		}
	}
	t.Fatalf("no goroutine %s in %s after 10s", state, fn)
}

// FuzzCounterSplits: however a server splits its writes, the counter counts
// the same responses and fails alike, whether a header is parsed in full,
// carried across writes or matched against the last one.
func FuzzCounterSplits(f *testing.F) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!"
	f.Add([]byte(ok+ok+ok), uint8(7))
	f.Add([]byte(ok+"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nHello, World"+ok), uint8(1))
	f.Add([]byte(ok+"HTTP/1.1 404 OK\r\nContent-Length: 13\r\n\r\nHello, World!"), uint8(50))
	f.Add([]byte("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"+ok), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		if len(stream) > maxHeader/2 || step == 0 {
			return // a carried header longer than maxHeader is an error only when split
		}
		var whole, split counter
		whole.reset(200, nil)
		split.reset(200, nil)
		whole.write(stream)
		for b := stream; len(b) > 0; {
			n := min(int(step), len(b))
			split.write(b[:n])
			b = b[n:]
		}
		if whole.responses != split.responses || (whole.err == nil) != (split.err == nil) {
			t.Errorf("whole: %d responses, err %v; in writes of %d: %d responses, err %v",
				whole.responses, whole.err, step, split.responses, split.err)
		}
	})
}
