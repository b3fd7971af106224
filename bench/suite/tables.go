package suite

import (
	"context"
	"fmt"
	"strings"

	"github.com/poolbench/poolbench/servers/app"
)

// table is one benchstat table printed at the end of a run.
type table struct {
	title string
	args  []string // benchstat flags
	proc  bool     // needs the process layer
}

// tables are the benchstat slices make bench prints; README's "Reading
// results" has more.
var tables = []table{
	{title: "in-process: server models (tcp, app route, all switches on; rows: load × conns)",
		args: []string{"-filter", ".name:Server /transport:tcp /route:app /pool:on /conv:on /reuse:on .unit:(req/s OR allocs/op)", "-col", "/model", "-row", "/load,/conns"}},
	{title: "in-process: client models against one server (plaintext; rows: callers)",
		args: []string{"-filter", ".name:Client .unit:(req/s OR dials/1k-req OR timewait-socks)", "-col", "/client", "-row", "/conns"}},
	{title: "process layer: client models, each in its own load process against a server process", proc: true,
		args: []string{"-filter", ".name:Proc /load:client .unit:(req/s OR p99-ns OR dials/1k-req OR timewait-socks)", "-col", "/client", "-row", "/conns"}},
	{title: "process layer, server on its own pinned cpu: keepalive and shortlived (rows: load × conns)", proc: true,
		args: []string{"-filter", ".name:Proc /client:driver /load:(keepalive OR shortlived) " + allOn() + " .unit:(req/s OR p99-ns OR cpu-ns/op OR allocs/op)", "-col", "/model", "-row", "/load,/conns"}},
	{title: "process layer: bursty, open loop, latency from the intended send time (rows: silence between bursts)", proc: true,
		args: []string{"-filter", ".name:Proc /load:bursty .unit:(p50-ns OR p99-ns OR p999-ns OR allocs/op)", "-col", "/model", "-row", "/gap"}},
	{title: "process layer: idle connections, server memory per connection (rows: conns × ReduceMemoryUsage)", proc: true,
		args: []string{"-filter", ".name:Proc /load:idle .unit:(rss-bytes/conn OR heap-bytes/conn)", "-col", "/model", "-row", "/conns,/mem"}},
}

// tables prints the benchstat tables of the run.
func (p *plan) tables(ctx context.Context, out, techniques string) {
	for _, t := range tables {
		if t.proc && !p.Proc {
			continue
		}
		p.benchstat(ctx, t.title, out, t.args)
	}
	if len(p.procs) > 1 {
		keys := app.SwitchKeys()
		p.benchstat(ctx, fmt.Sprintf("process layer: what each technique buys under real sockets (keepalive, %d conns; rows: %s on/off)", p.ProcScope.VariantConns, strings.Join(keys, " ")), out,
			[]string{"-filter", fmt.Sprintf(".name:Proc /client:driver /load:keepalive /conns:%d .unit:(req/s OR cpu-ns/op OR allocs/op)", p.ProcScope.VariantConns),
				"-col", "/model", "-row", "/" + strings.Join(keys, ",/")})
	}
	if p.Proc {
		fmt.Fprintf(p.Out, "\nRaw open-loop results: go tool vegeta report %s/vegeta/<cell>.vegeta.bin\n", p.Dir)
	}
	p.benchstat(ctx, fmt.Sprintf("each technique alone (go tool benchstat -col /switch %s)", techniques), techniques,
		[]string{"-col", "/switch", "-filter", ".unit:(sec/op OR allocs/op)"})
	fmt.Fprintf(p.Out, "\nReport: %s/report.html (open from disk) and %s/report.md\n", p.Dir, p.Dir)
	fmt.Fprintln(p.Out, "More slices (README, 'Reading results'):")
	fmt.Fprintf(p.Out, "  go tool benchstat -filter '.name:Proc /client:driver /load:keepalive %s' -col /model -row /conns %s\n", allOn(), out)
	fmt.Fprintf(p.Out, "  go tool benchstat -filter '.name:Server /conv:on /reuse:on' -col '/pool@(off on)' -row /model,/transport,/load,/conns %s\n", out)
}

// allOn is the filter of the cells with every app switch on.
func allOn() string {
	var b strings.Builder
	for i, k := range app.SwitchKeys() {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "/%s:on", k)
	}
	return b.String()
}

// benchstat prints one table under a title, blank lines dropped; a
// benchstat error is printed in its place (the run's data is on disk).
func (p *plan) benchstat(ctx context.Context, title, file string, args []string) {
	fmt.Fprintf(p.Out, "\n== %s ==\n", title)
	b, err := Command(ctx, "go", append(append([]string{"tool", "benchstat"}, args...), "-table", "", file)...).CombinedOutput()
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			fmt.Fprintln(p.Out, l)
		}
	}
	if err != nil {
		fmt.Fprintf(p.Out, "(benchstat: %v)\n", err)
	}
}
