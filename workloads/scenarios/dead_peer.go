package scenarios

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/workloads/clients"
	"github.com/poolbench/poolbench/workloads/observe"
)

// DeadPeer: a peer that goes silent — a pulled cable, a dead host, a
// firewall dropping the flow — sends no FIN and no RST, so a request
// waiting for its response sees nothing. Without TCP keep-alive the caller
// waits until Client.Timeout (forever when it is 0); with keep-alive the
// kernel probes the idle connection and, after Idle + Count × Interval
// unanswered, fails the read with ETIMEDOUT. The peer is made silent by
// taking the loopback interface down in a network namespace of the
// scenario's own, once the request has been acknowledged (a loopback peer
// that is alive answers the probes, so nothing would fire).
type DeadPeer struct{}

var _ Scenario = DeadPeer{}

// Name implements Scenario.
func (DeadPeer) Name() string { return "dead_peer" }

// Problem implements Scenario.
func (DeadPeer) Problem() string {
	return fmt.Sprintf("net/http with Dialer KeepAlive off: the server goes silent mid-request (no FIN, no RST) and the caller waits until Client.Timeout=%v", dpClientTimeout)
}

// Fix implements Scenario.
func (DeadPeer) Fix() string {
	return fmt.Sprintf("TCP keep-alive short enough to matter (Dialer.KeepAliveConfig Idle=%v, Interval=%v, Count=%d): the kernel's probes go unanswered and the read fails with \"connection timed out\" after ~%v", dpIdle, dpInterval, dpCount, dpIdle+dpCount*dpInterval)
}

const (
	dpClientTimeout = 5 * time.Second
	dpIdle          = time.Second
	dpInterval      = time.Second // Go sets it in whole seconds
	dpCount         = 2
)

// Run implements Scenario.
func (DeadPeer) Run(ctx context.Context) (*Outcome, error) {
	o := &Outcome{}
	for _, ka := range []bool{false, true} {
		row := Row{Role: "before", Config: fmt.Sprintf("net/http Dialer KeepAlive=-1 (off), Client.Timeout=%v", dpClientTimeout),
			Client: ClientConfig{Client: "nethttp", Concurrency: 1, DrainsBody: true, Idempotent: true, ReadTimeout: dpClientTimeout, KeepAlive: -1}}
		if ka {
			row.Role, row.Client.KeepAlive = "after", dpIdle
			row.Config = fmt.Sprintf("net/http Dialer KeepAliveConfig{Idle: %v, Interval: %v, Count: %d}, Client.Timeout=%v", dpIdle, dpInterval, dpCount, dpClientTimeout)
		}
		took, err := deadPeerRow(ctx, &row, ka)
		if err != nil {
			return nil, err
		}
		o.Rows = append(o.Rows, row)
		o.Facts = append(o.Facts, fmt.Sprintf("%s: the caller got %s %v after the peer went silent", row.Config, errString(row.Errors), took.Round(100*time.Millisecond)))
	}
	o.Facts = append(o.Facts, "Go's default Dialer keeps keep-alive on with Idle = Interval = 15 s and the kernel's 9 probes: a silent peer is noticed after ~2.5 min, so Client.Timeout is what bounds the call")
	return o, nil
}

// netnsThread runs functions on one OS thread in a network namespace of
// its own (sockets made there stay in it); the thread is discarded at the
// end, so the rest of the process never sees the namespace.
type netnsThread struct {
	do   chan func()
	quit chan struct{}
}

func newNetnsThread() (*netnsThread, error) {
	n := &netnsThread{do: make(chan func()), quit: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("%w: a network namespace for the silent peer: %v (needs root or a user namespace)", ErrNotAllowed, err)
			return
		}
		if err := observe.LoUp(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		for {
			select {
			case f := <-n.do:
				f()
			case <-n.quit:
				return
			}
		}
	}()
	return n, <-errc
}

// run calls f on the namespace's thread.
func (n *netnsThread) run(f func()) {
	done := make(chan struct{})
	n.do <- func() { f(); close(done) }
	<-done
}

func (n *netnsThread) close() { close(n.quit) }

// deadPeerRow runs one request against a server that reads it and then
// goes silent, and returns how long after the silence the caller's error
// came.
func deadPeerRow(ctx context.Context, row *Row, keepAlive bool) (time.Duration, error) {
	ns, err := newNetnsThread()
	if err != nil {
		return 0, err
	}
	defer ns.close()
	var ln net.Listener
	ns.run(func() { ln, err = net.Listen("tcp4", "127.0.0.1:0") })
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	got, release := make(chan struct{}), make(chan struct{})
	var server sync.WaitGroup
	defer server.Wait()
	defer close(release) // before Wait: the server holds the connection until then
	server.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tp := textproto.NewReader(bufio.NewReader(c))
		if _, err := tp.ReadLine(); err == nil {
			if _, err := tp.ReadMIMEHeader(); err == nil {
				close(got) // the request is read; no response follows
			}
		}
		<-release
	})
	var conns observe.Conns
	var tcp atomic.Pointer[net.TCPConn]
	d := net.Dialer{KeepAlive: -1}
	if keepAlive {
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: dpIdle, Interval: dpInterval, Count: dpCount}
	}
	tr := transport(conns.Dialer(func() (nc net.Conn, err error) {
		ns.run(func() { nc, err = d.Dial("tcp4", ln.Addr().String()) })
		if err == nil {
			tcp.Store(nc.(*net.TCPConn))
		}
		return nc, err
	}))
	defer tr.CloseIdleConnections()
	t := newTally(row)
	result := make(chan error, 1)
	t0 := time.Now()
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = (&http.Client{Transport: tr, Timeout: dpClientTimeout}).Do(req); err == nil {
				resp.Body.Close()
			}
		}
		result <- err
	}()
	select {
	case <-got:
	case err := <-result:
		return 0, fmt.Errorf("the request ended before the server read it: %v", err)
	}
	// Keep-alive probes an idle connection only: wait until the kernel has
	// the request acknowledged (nothing left to retransmit).
	if !waitFor(func() bool { return tcp.Load() != nil && unacked(tcp.Load()) == 0 }) {
		return 0, errors.New("the request was never acknowledged")
	}
	var downErr error
	ns.run(func() { downErr = observe.LoDown() })
	if downErr != nil {
		return 0, downErr
	}
	silent := time.Now()
	err = <-result
	took := time.Since(silent)
	t.add(err, deadPeerKind(err), t0)
	t.finish()
	cc := conns.Counts()
	row.Conns, row.Dials = &cc, cc.Opened
	return took, nil
}

// unacked is the connection's unacknowledged segments (-1 if unknown).
func unacked(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	rc.Control(func(fd uintptr) { //nolint:errcheck
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = int(info.Unacked)
		}
	})
	return n
}

// deadPeerKind tells keep-alive's verdict from the overall timeout.
func deadPeerKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ETIMEDOUT):
		return "keepalive_timed_out"
	case strings.Contains(err.Error(), "Client.Timeout exceeded"):
		return "client_timeout"
	}
	return clients.Kind(err)
}

// Diagnose implements Scenario: keep-alive off (net/http; a fasthttp
// dialer without keep-alive is out of the doctor's reach).
func (s DeadPeer) Diagnose(c ClientConfig) []Exposure {
	if c.fast() || c.KeepAlive >= 0 {
		return nil
	}
	what := fmt.Sprintf("Client.Timeout=%v", c.ReadTimeout)
	if c.ReadTimeout == 0 {
		what = "forever (no Client.Timeout)"
	}
	return expose(s, "Dialer KeepAlive off: a peer that goes silent (dead host, pulled cable) is noticed only after %s; enable keep-alive (Dialer.KeepAliveConfig) short enough to matter", what)
}

// Check implements Scenario: before, the call ended by Client.Timeout;
// after, by keep-alive's ETIMEDOUT, before Client.Timeout could fire.
func (DeadPeer) Check(o *Outcome) error {
	b, a := o.Row("before"), o.Row("after")
	if b.Errors["client_timeout"] != 1 {
		return fmt.Errorf("before: errors %v: want the call to end by Client.Timeout only", b.Errors)
	}
	if a.Errors["keepalive_timed_out"] != 1 {
		return fmt.Errorf("after: errors %v: want keep-alive to fail the read with ETIMEDOUT before Client.Timeout", a.Errors)
	}
	if b.Dials != 1 || a.Dials != 1 {
		return fmt.Errorf("%d and %d dials: want one connection per row", b.Dials, a.Dials)
	}
	return nil
}
