package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/poolbench/poolbench/workloads/scenarios"
)

func scenariosCmd(ctx context.Context, args []string) error {
	scenarios.RunChild() // a namespaced scenario's row, when started for one
	fs := flag.NewFlagSet("scenarios", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: poolbench scenarios [-run names] [-json]
       poolbench scenarios -doctor [client flags]

Reproduces the classic client pool failures against real servers on loopback,
each with a before and an after config, and checks that the failure happens
before and is gone after (exit 1 if not). With -doctor, says which failures a
client config is exposed to, by the same rules.

flags:`)
		fs.PrintDefaults()
	}
	run := fs.String("run", "all", "scenarios to run (comma-separated) or all")
	asJSON := fs.Bool("json", false, "print the outcomes as JSON")
	doctor := fs.Bool("doctor", false, "only diagnose the client config given by the flags below")
	var c scenarios.ClientConfig
	fs.StringVar(&c.Client, "client", "fasthttp_host", "doctor: "+doctorClients())
	fs.DurationVar(&c.ServerIdle, "server-idle", 0, "doctor: the server's keep-alive idle timeout")
	fs.DurationVar(&c.ClientIdle, "client-idle", 0, "doctor: MaxIdleConnDuration (fasthttp) or IdleConnTimeout (net/http)")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "doctor: HostClient MaxConns")
	fs.DurationVar(&c.MaxConnWaitTimeout, "max-conn-wait", 0, "doctor: HostClient MaxConnWaitTimeout")
	fs.IntVar(&c.Concurrency, "concurrency", 1, "doctor: requests in flight at once")
	fs.IntVar(&c.MaxIdleConnsPerHost, "max-idle-per-host", 0, "doctor: net/http MaxIdleConnsPerHost (0 = 2, -1 = keep-alive off)")
	fs.IntVar(&c.ServerLimit, "server-limit", 0, "doctor: handlers the server runs at once at most (fasthttp Server.Concurrency; 0 = unbounded)")
	fs.BoolVar(&c.Idempotent, "idempotent", true, "doctor: the requests are idempotent (GET, HEAD, PUT…)")
	fs.IntVar(&c.MaxAttempts, "max-attempts", 0, "doctor: MaxIdemponentCallAttempts (0 = 5)")
	fs.BoolVar(&c.DrainsBody, "drains-body", true, "doctor: the code reads every response body to the end")
	fs.BoolVar(&c.UsesDoTimeout, "dotimeout", false, "doctor: the code uses DoTimeout/DoDeadline")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 0, "doctor: client ReadTimeout (net/http: Client.Timeout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	usageErr := func(err error) error {
		fmt.Fprintf(os.Stderr, "poolbench scenarios: %v\n", err)
		return errUsage
	}
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	if *doctor {
		if err := c.Validate(set); err != nil {
			return usageErr(err)
		}
		exps := scenarios.Doctor(c)
		if len(exps) == 0 {
			fmt.Println("doctor: no known pool failure for this config")
		}
		for _, e := range exps {
			fmt.Printf("doctor: exposed to %s: %s\n", e.Scenario, e.Why)
		}
		return nil
	}
	for _, f := range set {
		if f != "run" && f != "json" {
			return usageErr(fmt.Errorf("-%s is a doctor flag: add -doctor, or drop it to run the scenarios", f))
		}
	}
	var list []scenarios.Scenario
	if *run == "all" {
		list = scenarios.All
	} else {
		for _, n := range strings.Split(*run, ",") {
			s, err := scenarios.Lookup(strings.TrimSpace(n))
			if err != nil {
				return usageErr(fmt.Errorf("-run %q: %v", *run, err))
			}
			list = append(list, s)
		}
	}
	failed := 0
	type result struct {
		Name, Problem, Fix string
		Outcome            *scenarios.Outcome
		Verdict            string
	}
	for _, s := range list {
		o, err := s.Run(ctx)
		if errors.Is(err, scenarios.ErrNotAllowed) {
			fmt.Fprintf(os.Stderr, "poolbench scenarios: %s skipped: %v\n", s.Name(), err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name(), err)
		}
		verdict := "reproduced before (by its mechanism), fixed after"
		if err := s.Check(o); err != nil {
			verdict = "CHECK FAILED: " + err.Error()
			failed++
		}
		if *asJSON {
			json.NewEncoder(os.Stdout).Encode(result{s.Name(), s.Problem(), s.Fix(), o, verdict}) //nolint:errcheck
			continue
		}
		fmt.Printf("## %s\n\nProblem: %s\nFix: %s\n\n%s\n", s.Name(), s.Problem(), s.Fix(), o.Table())
		for _, f := range o.Facts {
			fmt.Printf("- %s\n", f)
		}
		for _, r := range o.Rows {
			if r.Client.Client == "" {
				continue
			}
			exps := scenarios.Doctor(r.Client)
			names := make([]string, len(exps))
			for i, e := range exps {
				names[i] = e.Scenario
			}
			if len(names) == 0 {
				names = []string{"nothing known"}
			}
			fmt.Printf("- doctor, %s config: exposed to %s\n", r.Role, strings.Join(names, ", "))
		}
		fmt.Printf("\nVerdict: %s\n\n", verdict)
	}
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) did not reproduce their failure or their fix", failed)
	}
	return nil
}

// doctorClients lists the doctor's client names for -h.
func doctorClients() string {
	names := make([]string, len(scenarios.DoctorClients))
	for i, d := range scenarios.DoctorClients {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}
