package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
)

func serveCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: poolbench serve [flags]\n\nServes /plaintext and /app/users with one model and variant until SIGINT or SIGTERM,\nwith /stats and /debug/pprof/ on a loopback control port. Prints one ready line.\n\nflags:")
		fs.PrintDefaults()
	}
	model := fs.String("model", servers.Names()[0], "server model: "+strings.Join(servers.Names(), ", "))
	variant := fs.String("variant", "all-on", "app switches: all-on, all-off, or e.g. "+app.AllOn.String())
	c := runner.ServeConfig{}
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:0", "HTTP listen address (port 0 picks a free port)")
	fs.StringVar(&c.Control, "control", "127.0.0.1:0", "control listen address for /stats and /debug/pprof/ (loopback only)")
	fs.StringVar(&c.CPUs, "cpus", "", "pin every thread to these CPUs, e.g. 1 or 0-1 (default: not pinned)")
	fs.IntVar(&c.GOMAXPROCS, "gomaxprocs", 0, "GOMAXPROCS (default: the runtime's)")
	fs.IntVar(&c.MemProfileRate, "memprofilerate", -1, "runtime.MemProfileRate; 1 records every allocation (default: the runtime's)")
	k := &c.Knobs
	fs.DurationVar(&k.IdleTimeout, "idle-timeout", 0, "close keep-alive connections idle this long (both models; 0: model default)")
	fs.DurationVar(&k.ReadTimeout, "read-timeout", 0, "time limit for reading a request (both models)")
	fs.DurationVar(&k.WriteTimeout, "write-timeout", 0, "time limit for writing a response (both models)")
	fs.IntVar(&k.Concurrency, "concurrency", 0, "fasthttp: most connections served at once (0: 256k)")
	fs.DurationVar(&k.MaxIdleWorkerDuration, "max-idle-worker-duration", 0, "fasthttp: idle worker goroutines exit after this long (0: 10s)")
	fs.BoolVar(&k.ReduceMemoryUsage, "reduce-memory", false, "fasthttp: ReduceMemoryUsage, release buffers of idle connections")
	fs.DurationVar(&k.ReadHeaderTimeout, "read-header-timeout", 0, "net/http: time limit for reading request headers")
	fs.IntVar(&k.MaxHeaderBytes, "max-header-bytes", 0, "net/http: largest request header accepted (0: 1 MiB)")
	asJSON := fs.Bool("json", false, "print the ready line as JSON")
	allowRemote := fs.Bool("allow-remote", false, "allow a non-loopback -addr (reachable from other machines)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var err error
	if c.Model, err = servers.Lookup(*model); err != nil {
		return asUsage(err)
	}
	if c.Variant, err = app.ParseVariant(*variant); err != nil {
		return asUsage(err)
	}
	if err := validateServe(&c, *allowRemote); err != nil {
		return err
	}
	return runner.Serve(ctx, c, func(r runner.Ready) {
		if *asJSON {
			json.NewEncoder(os.Stdout).Encode(r) //nolint:errcheck
			return
		}
		fmt.Printf("poolbench serve: model=%s %s on http://%s, control http://%s (pid %d, cpus %s, GOMAXPROCS %d)\n",
			r.Model, r.Variant, r.Addr, r.Control, r.PID, r.CPUs, r.GOMAXPROCS)
	})
}
