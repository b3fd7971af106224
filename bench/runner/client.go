package runner

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/poolbench/poolbench/registry"
	"github.com/poolbench/poolbench/workloads"
	"github.com/poolbench/poolbench/workloads/clients"
)

// ClientKind is the closed-loop keep-alive load sent through a real client
// model (workloads/clients) instead of the lean driver: its subject is the
// client's pool, so its cells sweep client models and concurrency against
// one server. It lives here, not in workloads, because the client models
// import workloads.
type ClientKind struct {
	// Client is the client model `poolbench load` drives (-client).
	Client string
	// Clients and Conns are the process matrix's axes (-clients,
	// -client-conns).
	Clients string
	Conns   workloads.ConnSweep
	models  []clients.Model
}

var _ workloads.Kind = (*ClientKind)(nil)

// NewClientKind returns the client load with its defaults.
func NewClientKind() *ClientKind {
	return &ClientKind{Client: clients.Models[0].Name, Clients: "all",
		Conns: workloads.ConnSweep{Flag: "client-conns", List: "100"}}
}

// clientModels is the client registry.
func clientModels() *registry.Registry[clients.Model] {
	return registry.New("client model", func(m clients.Model) string { return m.Name }, clients.Models...)
}

// Name implements workloads.Workload.
func (*ClientKind) Name() string { return "client" }

// Run implements workloads.Workload through the -client model.
func (k *ClientKind) Run(ctx context.Context, d workloads.Dialer, p workloads.Plan) (workloads.Result, error) {
	m, err := clientModels().Lookup(k.Client)
	if err != nil {
		return workloads.Result{}, err
	}
	return m.Load().Run(ctx, d, p)
}

// Traits implements workloads.Kind.
func (*ClientKind) Traits() workloads.Traits {
	return workloads.Traits{Doc: "closed-loop keep-alive through a real client model, against one fasthttp server",
		Closed: true, FixedServer: true, Units: []string{"dials/1k-req", "timewait-socks"}}
}

// Flags implements workloads.Kind.
func (k *ClientKind) Flags(fs *flag.FlagSet) {
	fs.StringVar(&k.Client, "client", k.Client, "client: the client model, one of "+strings.Join(clientModels().Names(), ", "))
}

// SweepFlags implements workloads.Kind.
func (k *ClientKind) SweepFlags(fs *flag.FlagSet) {
	fs.StringVar(&k.Clients, "clients", k.Clients, "client: client models to sweep (comma-separated) or all")
	fs.StringVar(&k.Conns.List, k.Conns.Flag, k.Conns.List, "client: concurrency to sweep, e.g. 16,100")
}

// Validate implements workloads.Kind.
func (k *ClientKind) Validate() (err error) {
	reg := clientModels()
	if _, err := reg.Lookup(k.Client); err != nil {
		return err
	}
	if k.models, err = reg.Parse(k.Clients); err != nil {
		return err
	}
	return k.Conns.Validate()
}

// Points implements workloads.Kind: every client model × concurrency.
func (k *ClientKind) Points() []workloads.Point {
	var out []workloads.Point
	for _, m := range k.models {
		c := *k
		c.Client = m.Name
		for _, p := range c.Conns.Points(&c) {
			p.Keys = map[string]string{"client": m.Name}
			out = append(out, p)
		}
	}
	return out
}

// Args implements workloads.Kind.
func (k *ClientKind) Args() []string { return []string{"-client", k.Client} }

// Window implements workloads.Kind: the closed-loop window.
func (*ClientKind) Window(d time.Duration) time.Duration { return d }
