package workloads

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPClient is a client model under test: a real HTTP client with its own
// connection pool (workloads/clients holds the registry of them).
type HTTPClient interface {
	// Get fetches url and returns the status and body length, the body
	// read to the end.
	Get(url string) (status, bodyLen int, err error)
	// CloseIdle closes the pool's idle connections.
	CloseIdle()
}

// ClientLoad is the closed-loop keep-alive load sent through a client model
// instead of the lean driver, so what it measures is the client's pool:
// how many connections it dials, which errors it returns.
type ClientLoad struct {
	// Client names the model, for messages.
	Client string
	// New builds the client; every connection it opens must come from dial.
	New func(dial Dialer, conns int) HTTPClient
	// Kind classifies an error, e.g. "no_free_conns"; "" means "transport".
	Kind func(error) string
}

var _ Workload = ClientLoad{}

// Name implements Workload.
func (ClientLoad) Name() string { return "client" }

// Run implements Workload: p.Conns goroutines share one client.
func (w ClientLoad) Run(ctx context.Context, d Dialer, p Plan) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	var dials atomic.Int64
	c := w.New(func() (net.Conn, error) {
		dials.Add(1)
		return d()
	}, p.Conns)
	defer c.CloseIdle()
	url := "http://poolbench" + p.Request.Target
	l := newLoop(ctx, p)
	var kmu sync.Mutex
	kinds := map[string]int64{}
	res := l.run(p.Conns, func(_ int, t *tally) {
		for l.next() {
			t0 := time.Now()
			status, n, err := c.Get(url)
			switch {
			case err != nil:
				t.errs.Transport++
				k := "transport"
				if w.Kind != nil {
					if kk := w.Kind(err); kk != "" {
						k = kk
					}
				}
				kmu.Lock()
				kinds[k]++
				kmu.Unlock()
			case status != p.Request.Status:
				err = fmt.Errorf("status %d, want %d", status, p.Request.Status)
				t.errs.Status++
			case p.Request.BodyLen >= 0 && n != p.Request.BodyLen:
				err = fmt.Errorf("body of %d bytes, want %d", n, p.Request.BodyLen)
				t.errs.BodyLen++
			default:
				t.record(nil, t0)
				continue
			}
			if t.first == nil {
				t.first = err
			}
		}
	})
	res.Dials = dials.Load()
	res.Kinds = kinds
	return res, nil
}
