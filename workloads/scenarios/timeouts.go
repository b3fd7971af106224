package scenarios

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// Timeouts is a table: misbehaving servers on loopback (a listener that
// never accepts, a TLS handshake that stalls, headers that come late, a
// body that trickles, a server that never reads) against each client
// timeout, with which one fires, after how long, and the error text the
// caller sees. Before: a net/http client without timeouts against a server
// that stalls hangs (the harness cuts it); after: Client.Timeout ends it.
type Timeouts struct{}

var _ Scenario = Timeouts{}

// Name implements Scenario.
func (Timeouts) Name() string { return "timeouts" }

// Problem implements Scenario.
func (Timeouts) Problem() string {
	return "a client without timeouts (net/http's DefaultClient; fasthttp Do without ReadTimeout) waits forever for a server that stalls"
}

// Fix implements Scenario.
func (Timeouts) Fix() string {
	return "an overall bound (net/http Client.Timeout, fasthttp ReadTimeout/DoTimeout) plus the specific ones the table shows for each way a server can stall"
}

const (
	toLimit = 200 * time.Millisecond // every timeout under test
	toStall = 3 * time.Second        // how long a misbehaving server stalls
	toGuard = 1500 * time.Millisecond
)

// toCase is one row: a misbehaving server, a client and the timeout
// expected to fire (empty: none; the harness's guard cuts the call).
type toCase struct {
	server, client, fires string
	run                   func(ctx context.Context, m *misbehaving) error
}

// misbehaving holds the loopback servers, each stalling one way.
type misbehaving struct {
	full, silent, lateHeaders, trickle, noRead string
	closers                                    []io.Closer
}

func (m *misbehaving) Close() {
	for _, c := range m.closers {
		c.Close()
	}
}

// startMisbehaving starts the servers.
func startMisbehaving() (*misbehaving, error) {
	m := &misbehaving{}
	// A listener with a backlog of 0 that never accepts: once its queue is
	// full, the kernel drops new SYNs and connect hangs.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	sa, _ := unix.Getsockname(fd)
	m.full = fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	m.closers = append(m.closers, closerFunc(func() error { return unix.Close(fd) }))
	for range 4 { // fill the accept queue
		if c, err := net.DialTimeout("tcp4", m.full, 100*time.Millisecond); err == nil {
			m.closers = append(m.closers, c)
		}
	}
	serve := func(handle func(net.Conn)) (string, error) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		m.closers = append(m.closers, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); handle(c) }()
			}
		}()
		return ln.Addr().String(), nil
	}
	stall := func(c net.Conn) { c.SetReadDeadline(time.Now().Add(toStall)); io.Copy(io.Discard, c) } //nolint:errcheck
	readReq := func(c net.Conn) bool {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return false
			}
			if l == "\r\n" {
				return true
			}
		}
	}
	for _, s := range []struct {
		addr   *string
		handle func(net.Conn)
	}{
		{&m.silent, stall}, // accepts, never answers: TLS handshake and headers stall
		{&m.lateHeaders, func(c net.Conn) {
			if readReq(c) {
				time.Sleep(toStall)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") //nolint:errcheck
			}
		}},
		{&m.trickle, func(c net.Conn) {
			if readReq(c) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") //nolint:errcheck
				for range 100 {
					if _, err := c.Write([]byte("x")); err != nil {
						return
					}
					time.Sleep(toStall / 100)
				}
			}
		}},
		{&m.noRead, func(net.Conn) { time.Sleep(toStall) }}, // never reads: a large request fills the buffers
	} {
		if *s.addr, err = serve(s.handle); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// netGet runs a GET through a net/http client made by configure.
func netGet(ctx context.Context, url string, configure func(*http.Transport, *http.Client)) error {
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback stalls, no data
	c := &http.Client{Transport: tr}
	configure(tr, c)
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

var toCases = []toCase{
	{"headers late", "net/http, no timeouts", "", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.lateHeaders, func(*http.Transport, *http.Client) {})
	}},
	{"headers late", "net/http Client.Timeout", "Client.Timeout", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.lateHeaders, func(_ *http.Transport, c *http.Client) { c.Timeout = toLimit })
	}},
	{"listener never accepts (backlog full)", "net/http Dialer.Timeout", "Dialer.Timeout", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.full, func(tr *http.Transport, _ *http.Client) {
			tr.DialContext = (&net.Dialer{Timeout: toLimit}).DialContext
		})
	}},
	{"TLS handshake stalls", "net/http TLSHandshakeTimeout", "TLSHandshakeTimeout", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "https://"+m.silent, func(tr *http.Transport, _ *http.Client) { tr.TLSHandshakeTimeout = toLimit })
	}},
	{"headers late", "net/http ResponseHeaderTimeout", "ResponseHeaderTimeout", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.lateHeaders, func(tr *http.Transport, _ *http.Client) { tr.ResponseHeaderTimeout = toLimit })
	}},
	{"body trickles", "net/http ResponseHeaderTimeout (headers came: no effect)", "", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.trickle, func(tr *http.Transport, _ *http.Client) { tr.ResponseHeaderTimeout = toLimit })
	}},
	{"body trickles", "net/http Client.Timeout", "Client.Timeout", func(ctx context.Context, m *misbehaving) error {
		return netGet(ctx, "http://"+m.trickle, func(_ *http.Transport, c *http.Client) { c.Timeout = toLimit })
	}},
	{"headers late", "fasthttp HostClient ReadTimeout", "ReadTimeout", func(ctx context.Context, m *misbehaving) error {
		return fastGet(ctx, &fasthttp.HostClient{Addr: m.lateHeaders, ReadTimeout: toLimit, MaxIdemponentCallAttempts: 1}, nil)
	}},
	{"listener never accepts (backlog full)", "fasthttp Dial: fasthttp.DialTimeout", "DialTimeout", func(ctx context.Context, m *misbehaving) error {
		return fastGet(ctx, &fasthttp.HostClient{Addr: m.full, MaxIdemponentCallAttempts: 1,
			Dial: func(addr string) (net.Conn, error) { return fasthttp.DialTimeout(addr, toLimit) }}, nil)
	}},
	{"server never reads (4 MiB POST)", "fasthttp HostClient WriteTimeout", "WriteTimeout", func(ctx context.Context, m *misbehaving) error {
		return fastGet(ctx, &fasthttp.HostClient{Addr: m.noRead, WriteTimeout: toLimit, MaxIdemponentCallAttempts: 1}, func(req *fasthttp.Request) {
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetBody(make([]byte, 4<<20))
		})
	}},
	{"the only connection is busy (headers late)", "fasthttp MaxConns=1, MaxConnWaitTimeout", "MaxConnWaitTimeout", func(ctx context.Context, m *misbehaving) error {
		hc := &fasthttp.HostClient{Addr: m.lateHeaders, MaxConns: 1, MaxConnWaitTimeout: toLimit, ReadTimeout: toGuard, MaxIdemponentCallAttempts: 1}
		go fastGet(ctx, hc, nil) //nolint:errcheck // holds the connection
		time.Sleep(50 * time.Millisecond)
		return fastGet(ctx, hc, nil)
	}},
}

// fastGet sends one request through hc; the harness's guard ends it
// (ReadTimeout-free clients would wait forever) by closing the connections.
func fastGet(ctx context.Context, hc *fasthttp.HostClient, prepare func(*fasthttp.Request)) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + hc.Addr + "/")
	if prepare != nil {
		prepare(req)
	}
	dl, _ := ctx.Deadline()
	return hc.DoDeadline(req, resp, dl)
}

// Run implements Scenario: every case at once, each bounded by the guard.
func (Timeouts) Run(ctx context.Context) (*Outcome, error) {
	m, err := startMisbehaving()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	o := &Outcome{}
	rows := make([]Row, len(toCases))
	texts := make([]string, len(toCases))
	var wg sync.WaitGroup
	for i, c := range toCases {
		wg.Go(func() {
			role := "also"
			switch i {
			case 0:
				role = "before"
			case 1:
				role = "after"
			}
			rows[i] = Row{Role: role, Config: fmt.Sprintf("%s vs %s (each timeout %v)", c.client, c.server, toLimit),
				Client: ClientConfig{Client: map[bool]string{true: "fasthttp_host", false: "nethttp"}[strings.HasPrefix(c.client, "fasthttp")], Concurrency: 1, DrainsBody: true, Idempotent: true}}
			if i == 1 {
				rows[i].Client.ReadTimeout = toLimit
			}
			cctx, cancel := context.WithTimeout(ctx, toGuard)
			defer cancel()
			t := newTally(&rows[i])
			t0 := time.Now()
			err := c.run(cctx, m)
			took := time.Since(t0)
			kind := ""
			if err != nil && cctx.Err() != nil && took >= toGuard*9/10 {
				kind = "hung_cut_by_guard"
			}
			t.add(err, kind, t0)
			d := took.Round(time.Millisecond)
			rows[i].P99 = &d
			if err != nil {
				texts[i] = err.Error()
			}
		})
	}
	wg.Wait()
	for i, c := range toCases {
		o.Rows = append(o.Rows, rows[i])
		fires := c.fires
		if fires == "" {
			fires = "none"
		}
		o.Facts = append(o.Facts, fmt.Sprintf("%s, %s: expected to fire: %s; ended after %v with %q", c.server, c.client, fires, *rows[i].P99, texts[i]))
	}
	return o, nil
}

// Diagnose implements Scenario: no overall bound on a request.
func (s Timeouts) Diagnose(c ClientConfig) []Exposure {
	if c.ReadTimeout > 0 || c.UsesDoTimeout {
		return nil
	}
	if c.fast() {
		return expose(s, "no ReadTimeout and no DoTimeout: a server that stalls holds the caller (and a connection) forever; set ReadTimeout or use DoTimeout")
	}
	return expose(s, "no Client.Timeout (-read-timeout): a server that stalls holds the caller forever; set Client.Timeout (and ResponseHeaderTimeout, TLSHandshakeTimeout, Dialer.Timeout)")
}

// Check implements Scenario: where a timeout is expected, the call failed
// as a timeout after at least that long and well before the server's
// stall ended; where none is, the call hung until the harness's guard.
func (Timeouts) Check(o *Outcome) error {
	for i, c := range toCases {
		r := o.Rows[i]
		took := *r.P99
		if c.fires == "" {
			if r.Errors["hung_cut_by_guard"] != 1 {
				return fmt.Errorf("%s, %s: errors %v after %v: want a hang, cut by the harness after %v", c.server, c.client, r.Errors, took, toGuard)
			}
			continue
		}
		// The kind varies by release and path (fasthttp's ErrDialTimeout is
		// "dial", a net timeout "timeout"); when it fired is the check.
		if r.Failed() != 1 || r.Errors["hung_cut_by_guard"] != 0 || took < toLimit*9/10 || took >= toGuard*9/10 {
			return fmt.Errorf("%s, %s: errors %v after %v: want %s to fire after about %v", c.server, c.client, r.Errors, took, c.fires, toLimit)
		}
	}
	return nil
}
