// Package scenarios reproduces the classic client connection-pool failures
// against real servers on loopback, each with its fix, measured: every
// scenario runs a before config and an after config and reports requests,
// errors by kind, dials, TIME_WAIT sockets and p99. All is the registry;
// one file per scenario. Every request loop is bounded in count and time.
package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"

	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
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
}

// All is the registry of scenarios.
var All = []Scenario{NoFreeConns{}, DoTimeoutLeak{}, IdleMismatch{}, TimeWaitChurn{}, UnreadBody{}, RequestCtxEscape{}}

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

// Row is one config's measurements.
type Row struct {
	// Role is "before", "after" or "also" (a variant worth showing).
	Role string
	// Config describes the client and server settings.
	Config string
	// Client is the config as the doctor reads it.
	Client       ClientConfig
	Requests, OK int
	// Errors counts failed requests by kind (clients.Kind, or the scenario's own).
	Errors   map[string]int
	Dials    int64
	TimeWait int
	P99      time.Duration
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

// Table renders the outcome as a markdown table.
func (o *Outcome) Table() string {
	var b strings.Builder
	b.WriteString("| | config | requests | ok | errors | dials | TIME_WAIT | p99 |\n|---|---|---:|---:|---|---:|---:|---:|\n")
	for _, r := range o.Rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %d | %d | %v |\n", r.Role, r.Config, r.Requests, r.OK, errString(r.Errors), r.Dials, r.TimeWait, r.P99.Round(10*time.Microsecond))
	}
	return b.String()
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

// counter counts dials for a client.
type counter struct{ n atomic.Int64 }

// dialer dials addr and counts.
func (c *counter) dialer(addr string) workloads.Dialer {
	return func() (net.Conn, error) {
		c.n.Add(1)
		return net.DialTimeout("tcp4", addr, 5*time.Second)
	}
}

// fastServer serves h with fasthttp on a free loopback port.
type fastServer struct {
	s    *fasthttp.Server
	ln   net.Listener
	Addr string
	done chan struct{}
}

func startFast(h fasthttp.RequestHandler, configure func(*fasthttp.Server)) (*fastServer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback: %w", err)
	}
	s := &fasthttp.Server{Handler: h, NoDefaultServerHeader: true, CloseOnShutdown: true}
	if configure != nil {
		configure(s)
	}
	fs := &fastServer{s: s, ln: ln, Addr: ln.Addr().String(), done: make(chan struct{})}
	go func() { s.Serve(ln); close(fs.done) }() //nolint:errcheck
	return fs, nil
}

// port is the server's port, for TIME_WAIT counting.
func (f *fastServer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fastServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.s.ShutdownWithContext(ctx) //nolint:errcheck
	<-f.done
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
	t.row.P99 = time.Duration(t.hist.ValueAtQuantile(99))
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

// onFreshServer measures one row against a server of its own, so the
// TIME_WAIT sockets on its port are the row's: it serves h, calls run with
// the address, a counting dialer and the row's tally (run closes its
// client's idle connections before it returns), then fills in the dials
// and TIME_WAIT count.
func onFreshServer(h fasthttp.RequestHandler, row *Row, run func(addr string, dial workloads.Dialer, t *tally) error) error {
	srv, err := startFast(h, nil)
	if err != nil {
		return err
	}
	defer srv.stop()
	var dials counter
	if err := run(srv.Addr, dials.dialer(srv.Addr), newTally(row)); err != nil {
		return err
	}
	row.Dials = dials.n.Load()
	row.TimeWait = timeWait(srv.port())
	return nil
}

// timeWait counts TIME_WAIT sockets on port, after a moment for closes to land.
func timeWait(port int) int {
	time.Sleep(50 * time.Millisecond)
	n, _ := workloads.CountTimeWait(port)
	return n
}
