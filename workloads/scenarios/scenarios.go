// Package scenarios reproduces the classic client connection-pool failures
// against real servers on loopback, each with its fix, measured: every
// scenario runs a before config and an after config and reports requests,
// errors by kind, and what package observe sees: dials and reuse, the
// server's handlers, and socket states per side over time. All is the registry;
// one file per scenario. Every request loop is bounded in count and time.
package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
	"github.com/poolbench/poolbench/workloads/observe"
)

// Scenario is one failure and its fix.
type Scenario interface {
	// Name is the scenario's name, e.g. "no_free_conns".
	Name() string
	// Problem says what goes wrong, and Fix what removes it.
	Problem() string
	Fix() string
	// Run runs the before and after configs.
	Run(ctx context.Context) (*Outcome, error)
	// Check returns an error unless the failure happened before and the
	// fix removed it.
	Check(o *Outcome) error
	// Diagnose is the scenario's doctor rule: why c is exposed to this
	// failure, or nothing.
	Diagnose(c ClientConfig) []Exposure
}

// All is the registry of scenarios; recentFasthttp are those that need a
// fasthttp API older releases lack (built out with -tags fasthttp_old, as
// the release sweep does for them).
var All = append([]Scenario{NoFreeConns{}, DefaultMaxConns{}, DoTimeoutLeak{}, IdleMismatch{}, TimeWaitChurn{}, PortExhaustion{}, UnreadBody{},
	KeepAliveOff{}, NetHTTPLRU{}, Timeouts{}, DeadPeer{}, RequestCtxEscape{}}, recentFasthttp...)

// Lookup returns the scenario registered under name.
func Lookup(name string) (Scenario, error) {
	names := make([]string, len(All))
	for i, s := range All {
		if s.Name() == name {
			return s, nil
		}
		names[i] = s.Name()
	}
	return nil, fmt.Errorf("unknown scenario %q: want one of %s", name, strings.Join(names, ", "))
}

// Result is one scenario's run: its outcome and verdict, as poolbench
// scenarios -json prints it, one per line.
type Result struct {
	Name, Problem, Fix string
	Outcome            *Outcome
	// Verdict is Reproduced, or "CHECK FAILED: " and why.
	Verdict string
	// Failed: Check found the failure or its fix missing.
	Failed bool `json:",omitempty"`
}

// Reproduced is the verdict of a scenario whose check passed.
const Reproduced = "reproduced before (by its mechanism), fixed after"

// Evaluate runs s and checks it.
func Evaluate(ctx context.Context, s Scenario) (*Result, error) {
	o, err := s.Run(ctx)
	if err != nil {
		return nil, err
	}
	r := &Result{Name: s.Name(), Problem: s.Problem(), Fix: s.Fix(), Outcome: o, Verdict: Reproduced}
	if err := s.Check(o); err != nil {
		r.Verdict, r.Failed = "CHECK FAILED: "+err.Error(), true
	}
	return r, nil
}

// Row is one config's measurements. Pointers and empty fields are what
// the row did not measure; the table prints them as "—".
type Row struct {
	// Role is "before", "after" or "also" (a variant worth showing).
	Role string
	// Config describes the client and server settings.
	Config string
	// Client is the config as the doctor reads it.
	Client       ClientConfig
	Requests, OK int
	// Errors counts failed requests by kind (clients.Kind, or the scenario's own).
	Errors map[string]int
	// Dials is connections the client opened.
	Dials int64
	// TimeWait is TIME_WAIT sockets on the server port at the end (both sides).
	TimeWait *int `json:",omitempty"`
	// P99 is the 99th percentile latency of successful requests.
	P99 *time.Duration `json:",omitempty"`
	// Sockets is the socket-state timeline on the server port, per side.
	Sockets *observe.Timeline `json:",omitempty"`
	// Conns is the client's connections: uses, reuses, closes by side.
	Conns *observe.ConnCounts `json:",omitempty"`
	// Trace is net/http's GotConn counts (net/http clients only).
	Trace *observe.TraceCounts `json:",omitempty"`
	// Server is what the server's handler saw, ServerConns its connections.
	Server      *observe.HandlerCounts `json:",omitempty"`
	ServerConns *observe.ConnCounts    `json:",omitempty"`
}

// Failed is the number of failed requests.
func (r *Row) Failed() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Outcome is a scenario's rows and what was observed beyond them.
type Outcome struct {
	Rows []Row
	// Phase is a sweep table, for scenarios that have one.
	Phase *Phase `json:",omitempty"`
	// Facts are measured observations, one line each.
	Facts []string
}

// Row returns the first row with the given role.
func (o *Outcome) Row(role string) *Row {
	for i := range o.Rows {
		if o.Rows[i].Role == role {
			return &o.Rows[i]
		}
	}
	return nil
}

// TableHeader names the columns of Row.Cells.
var TableHeader = []string{"", "config", "requests", "ok", "errors", "dials", "reused", "server: served / peak handlers / dup ids", "TIME_WAIT client / server", "p99"}

// Cells formats the row for a table under TableHeader; "—" marks what the
// row did not measure. TIME_WAIT is split by the side that closed first.
func (r *Row) Cells() []string {
	return []string{r.Role, r.Config, strconv.Itoa(r.Requests), strconv.Itoa(r.OK), errString(r.Errors), strconv.FormatInt(r.Dials, 10),
		r.reused(), r.serverCell(), r.timeWaitCell(), r.p99Cell()}
}

// Table renders the outcome as a markdown table, and its phase table if any.
func (o *Outcome) Table() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(TableHeader, " | ") + " |\n|---|---|---:|---:|---|---:|---:|---|---|---:|\n")
	for _, r := range o.Rows {
		b.WriteString("| " + strings.Join(r.Cells(), " | ") + " |\n")
	}
	if o.Phase != nil {
		b.WriteString("\n" + o.Phase.Markdown())
	}
	return b.String()
}

const unmeasured = "—"

func (r *Row) reused() string {
	switch {
	case r.Trace != nil:
		return fmt.Sprintf("%d of %d", r.Trace.Reused, r.Trace.Got)
	case r.Conns != nil:
		return fmt.Sprintf("%d of %d", r.Conns.Reuses, r.Conns.Uses)
	}
	return unmeasured
}

func (r *Row) serverCell() string {
	if r.Server == nil {
		return unmeasured
	}
	return fmt.Sprintf("%d / %d / %d", r.Server.Served, r.Server.Peak, r.Server.Duplicates)
}

func (r *Row) timeWaitCell() string {
	if r.Sockets == nil || len(r.Sockets.Samples) == 0 {
		if r.TimeWait != nil {
			return strconv.Itoa(*r.TimeWait)
		}
		return unmeasured
	}
	l := r.Sockets.Last()
	return fmt.Sprintf("%d / %d", l.Client.TimeWait, l.Server.TimeWait)
}

func (r *Row) p99Cell() string {
	if r.P99 == nil {
		return unmeasured
	}
	return r.P99.Round(10 * time.Microsecond).String()
}

func errString(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// fastServer serves h with fasthttp on a free loopback port.
type fastServer struct {
	s    *fasthttp.Server
	ln   net.Listener
	Addr string
	done chan struct{}
}

func startFast(host string, h fasthttp.RequestHandler, configure func(*fasthttp.Server), wrap ...func(net.Listener) net.Listener) (*fastServer, error) {
	return startFastOn(net.JoinHostPort(host, "0"), h, configure, wrap...)
}

// startFastOn is startFast on a given loopback host:port.
func startFastOn(addr string, h fasthttp.RequestHandler, configure func(*fasthttp.Server), wrap ...func(net.Listener) net.Listener) (*fastServer, error) {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	for _, w := range wrap {
		ln = w(ln)
	}
	s := &fasthttp.Server{Handler: h, NoDefaultServerHeader: true, CloseOnShutdown: true,
		Logger: log.New(io.Discard, "", 0)} // the scenarios provoke the errors it would log
	if configure != nil {
		configure(s)
	}
	fs := &fastServer{s: s, ln: ln, Addr: ln.Addr().String(), done: make(chan struct{})}
	go func() { s.Serve(ln); close(fs.done) }() //nolint:errcheck
	return fs, nil
}

// port is the server's port, for TIME_WAIT counting.
func (f *fastServer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// stop shuts the server down (Shutdown, which every fasthttp release the
// version sweep builds against has), closing the listener if it hangs.
func (f *fastServer) stop() {
	go f.s.Shutdown() //nolint:errcheck
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		f.ln.Close()
		<-f.done
	}
}

// tally collects request outcomes from concurrent callers.
type tally struct {
	mu     sync.Mutex
	row    *Row
	hist   *hdrhistogram.Histogram
	errLog error
}

func newTally(row *Row) *tally {
	row.Errors = map[string]int{}
	return &tally{row: row, hist: hdrhistogram.New(1, int64(time.Minute), 3)}
}

// add records one request: err nil is success; kind names a failure.
func (t *tally) add(err error, kind string, began time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.row.Requests++
	if err == nil {
		t.row.OK++
		_ = t.hist.RecordValue(int64(time.Since(began)))
		return
	}
	if kind == "" {
		if kind = clients.Kind(err); kind == "" {
			kind = "other"
		}
	}
	t.row.Errors[kind]++
	if t.errLog == nil {
		t.errLog = err
	}
}

func (t *tally) finish() {
	if t.row.OK > 0 {
		p := time.Duration(t.hist.ValueAtQuantile(99))
		t.row.P99 = &p
	}
}

// hammer runs workers goroutines each calling do perWorker times, bounded
// by ctx and a 30 s limit.
func hammer(ctx context.Context, workers, perWorker int, t *tally, do func() (error, string)) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err, kind := do()
				t.add(err, kind, t0)
			}
		}()
	}
	wg.Wait()
	t.finish()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("the scenario's request loop hit its 30 s limit")
	}
	return ctx.Err()
}

// waitFor polls cond every millisecond for up to 5 s.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// lab is a fresh fasthttp server on loopback with everything observed: its
// handler (served, peak, duplicate ids), its connections, the client's
// connections through dial, net/http's reuse through trace, and the socket
// states on its port over time. One lab per row, so the sockets are the row's.
type lab struct {
	srv      *fastServer
	handlers observe.Handlers
	server   observe.Conns
	client   observe.Conns
	trace    observe.Trace
	traced   atomic.Bool
	watch    *observe.Watcher
	// serve and configure are the server's, for restart.
	serve     fasthttp.RequestHandler
	configure func(*fasthttp.Server)
}

// newLab serves h (configure may change the server) and starts watching
// its sockets every 20 ms.
func newLab(h fasthttp.RequestHandler, configure func(*fasthttp.Server)) (*lab, error) {
	return newLabEvery(h, configure, 20*time.Millisecond)
}

// newLabEvery is newLab sampling sockets every interval (0: only when the
// scenario calls watch.Sample, and at the end), for scenarios that run
// many labs at once: each sample walks the kernel's socket table.
func newLabEvery(h fasthttp.RequestHandler, configure func(*fasthttp.Server), every time.Duration) (*lab, error) {
	return newLabAt("127.0.0.1", h, configure, every)
}

// newLabAt is newLabEvery on another loopback address (127.0.0.0/8 only).
func newLabAt(host string, h fasthttp.RequestHandler, configure func(*fasthttp.Server), every time.Duration) (*lab, error) {
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("lab address %q: want a loopback address", host)
	}
	l := &lab{server: observe.Conns{Server: true}, configure: configure}
	l.serve = func(ctx *fasthttp.RequestCtx) {
		defer l.handlers.Enter(string(ctx.Request.Header.Peek(observe.RequestID)))()
		h(ctx)
	}
	srv, err := startFast(host, l.serve, configure, l.server.Listener)
	if err != nil {
		return nil, err
	}
	l.srv = srv
	l.watch = observe.Watch(every, srv.port())
	return l, nil
}

// restart stops the lab's server (closing its idle connections, as a
// deploy does) and starts a new one on the same address, observed as the
// old one was.
func (l *lab) restart() error {
	l.srv.stop()
	srv, err := startFastOn(l.srv.Addr, l.serve, l.configure, l.server.Listener)
	if err != nil {
		return err
	}
	l.srv = srv
	return nil
}

// dial is the client's counting dialer to the lab's server.
func (l *lab) dial() workloads.Dialer {
	return l.client.Dialer(func() (net.Conn, error) { return net.DialTimeout("tcp4", l.srv.Addr, 5*time.Second) })
}

// fastDial is dial in HostClient.Dial's shape.
func (l *lab) fastDial() fasthttp.DialFunc {
	d := l.dial()
	return func(string) (net.Conn, error) { return d() }
}

// ctx returns a request context traced by the lab (net/http clients).
func (l *lab) ctx(ctx context.Context) context.Context {
	l.traced.Store(true)
	return l.trace.Context(ctx)
}

// url is the server's root URL.
func (l *lab) url() string { return "http://" + l.srv.Addr + "/" }

// finish stops the watch (after the client has closed its idle
// connections) and the server, and fills in the row's observations.
func (l *lab) finish(row *Row) {
	tl := l.watch.Stop(100 * time.Millisecond)
	l.srv.stop()
	last := tl.Last()
	tw := last.Client.TimeWait + last.Server.TimeWait
	cc, sc, hc := l.client.Counts(), l.server.Counts(), l.handlers.Counts()
	row.Sockets, row.TimeWait, row.Conns, row.ServerConns, row.Server = &tl, &tw, &cc, &sc, &hc
	row.Dials = cc.Opened
	if l.traced.Load() {
		tc := l.trace.Counts()
		row.Trace = &tc
	}
}

// onFreshServer measures one row in a lab of its own: it serves h, calls
// run with the lab and the row's tally (run closes its client's idle
// connections before it returns), then fills in the observations.
func onFreshServer(h fasthttp.RequestHandler, row *Row, run func(l *lab, t *tally) error) error {
	l, err := newLab(h, nil)
	if err != nil {
		return err
	}
	err = run(l, newTally(row))
	l.finish(row)
	return err
}
