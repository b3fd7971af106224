package hosts_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolbench/poolbench/bench/hosts"
	"github.com/poolbench/poolbench/bench/hosts/netnstest"
	"github.com/poolbench/poolbench/bench/merge"
	"github.com/poolbench/poolbench/bench/runner"
	"github.com/poolbench/poolbench/servers/control"
)

// TestMultiHost runs today's `poolbench serve` on a server host and
// `poolbench load` on two load hosts, network namespaces joined by a bridge,
// through real ssh prefixes and through `ip netns exec` prefixes; it merges
// the loads' results and checks the merged total equals the sum of the
// hosts' counts and the server's own count, exactly.
func TestMultiHost(t *testing.T) {
	eachVia(t, multiHost)
}

// flagOf reports whether a poolbench command lists a flag in its -h.
func flagOf(bin, cmd, flag string) bool {
	out, _ := exec.Command(bin, cmd, "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-"+flag+" ")) || bytes.Contains(out, []byte("-"+flag+"\n"))
}

func multiHost(t *testing.T, lab *netnstest.Lab, bin string, pick func(*netnstest.Host) hosts.Host) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srvHost := pick(lab.Server)
	// --ship: each host gets its own copy through its prefix.
	binOn := map[*netnstest.Host]string{}
	for _, h := range lab.All() {
		path, remove, err := pick(h).Ship(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := remove(); err != nil {
				t.Errorf("removing the shipped binary: %v", err)
			}
		})
		binOn[h] = path
	}

	serveArgs := []string{binOn[lab.Server], "serve", "-json", "-model", "fasthttp", "-addr", lab.Server.Addr + ":0", "-control", "127.0.0.1:0"}
	if flagOf(bin, "serve", "allow-remote") {
		serveArgs = append(serveArgs, "-allow-remote")
	}
	pr, pw := io.Pipe()
	var serveErr bytes.Buffer
	srv, err := srvHost.Start(serveArgs, hosts.Options{Stdout: pw, Stderr: &serveErr})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop(10 * time.Second) //nolint:errcheck
		}
	}()
	go func() { srv.Wait(); pw.Close() }() //nolint:errcheck
	var ready runner.Ready
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &ready) != nil {
		t.Fatalf("server ready line %q: %v; stderr: %s", line, err, serveErr.String())
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	t.Logf("server on %s: %s, control %s (on its loopback)", srvHost, ready.Addr, ready.Control)

	ctlAddr, closeFwd, err := srvHost.Forward(ctx, ready.Control)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFwd()
	ctl := &control.Client{Addr: ctlAddr}
	served := func() uint64 {
		s, err := ctl.Stats(ctx, control.Options{})
		if err != nil {
			t.Fatalf("server stats through the forward %s: %v", ctlAddr, err)
		}
		return s.Served
	}

	// Today's load refuses non-loopback targets; until it has
	// -allow-remote, each load host reaches the server through a relay on
	// its own loopback (inside its namespace, across the bridge).
	allowRemote := flagOf(bin, "load", "allow-remote")
	target := func(h *netnstest.Host) (string, []string) {
		if allowRemote {
			return ready.Addr, []string{"-allow-remote"}
		}
		return h.Relay(t, ready.Addr), nil
	}

	cells := []struct {
		cell string
		args []string
	}{
		{"Proc/model=fasthttp/load=keepalive/conns=4", []string{"-workload", "keepalive", "-conns", "4", "-duration", "1s", "-warmup", "0"}},
		{"Proc/model=fasthttp/load=bursty/conns=4", []string{"-workload", "bursty", "-conns", "4", "-rate", "200", "-on", "200ms", "-off", "100ms", "-bursts", "2"}},
	}
	for _, c := range cells {
		before := served()
		start := time.Now().Add(3 * time.Second)
		type run struct {
			h      *netnstest.Host
			p      *hosts.Process
			out    bytes.Buffer
			errOut bytes.Buffer
			vegeta string
		}
		var runs []*run
		for _, h := range lab.Loads {
			r := &run{h: h}
			addr, extra := target(h)
			args := append([]string{binOn[h], "load", "-json", "-addr", addr}, c.args...)
			if strings.Contains(c.cell, "bursty") {
				r.vegeta = filepath.Join(lab.Dir, fmt.Sprintf("%s-%d.vegeta.bin", h.Name, time.Now().UnixNano()))
				args = append(args, "-vegeta-out", r.vegeta)
			}
			p, err := pick(h).Start(append(args, extra...), hosts.Options{Stdout: &r.out, Stderr: &r.errOut, StartAt: start})
			if err != nil {
				t.Fatal(err)
			}
			r.p = p
			runs = append(runs, r)
		}
		var results [][]merge.HostResult
		var names []string
		var sum int64
		var perHost []string
		for _, r := range runs {
			if err := r.p.Wait(); err != nil {
				t.Fatalf("load on %s: %v: %s", r.h.Name, err, r.errOut.String())
			}
			var rep runner.LoadReport
			if err := json.Unmarshal(r.out.Bytes(), &rep); err != nil {
				t.Fatalf("load on %s printed %q: %v", r.h.Name, r.out.String(), err)
			}
			if rep.OK == 0 || rep.Errors.Total() != 0 {
				t.Fatalf("load on %s: %d ok, errors %v (%s)", r.h.Name, rep.OK, rep.Errors, rep.FirstError)
			}
			hr := merge.HostResult{Host: pick(r.h).String(), Cell: c.cell}
			if r.vegeta != "" {
				// Fetch the host's results through its prefix, as from
				// another machine.
				b, err := pick(r.h).Output(ctx, []string{"cat", r.vegeta}, nil)
				if err != nil {
					t.Fatal(err)
				}
				hr.Vegeta = r.vegeta + ".fetched"
				if err := os.WriteFile(hr.Vegeta, b, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				var cl merge.Closed
				if err := json.Unmarshal(r.out.Bytes(), &cl); err != nil {
					t.Fatal(err)
				}
				hr.Closed = &cl
			}
			results = append(results, []merge.HostResult{hr})
			names = append(names, hr.Host)
			sum += rep.OK
			perHost = append(perHost, fmt.Sprintf("%s %d", r.h.Name, rep.OK))
		}
		lines, err := merge.Lines(results)
		if err != nil {
			t.Fatal(err)
		}
		got := served() - before
		var file strings.Builder
		merge.Write(&file, names, lines) //nolint:errcheck
		var shown []string               // the merged file without its Unit lines
		for _, l := range strings.Split(file.String(), "\n") {
			if strings.HasPrefix(l, "load-") || strings.HasPrefix(l, "Benchmark") {
				shown = append(shown, l)
			}
		}
		t.Logf("%s: per host %s; merged %d; server served %d\n%s", c.cell, strings.Join(perHost, ", "), lines[0].Iters, got, strings.Join(shown, "\n"))
		if lines[0].Iters != sum || uint64(sum) != got {
			t.Errorf("%s: merged %d, hosts' sum %d, server served %d: want all equal", c.cell, lines[0].Iters, sum, got)
		}
	}

	// Stopping through the prefix ends the server on its host, gracefully.
	stopped = true
	if err := srv.Stop(15 * time.Second); err != nil {
		t.Errorf("stopping the server through %s: %v (stderr %s)", srvHost, err, serveErr.String())
	}
	if left := processesIn(lab.Server.NS, binOn[lab.Server]); len(left) > 0 {
		t.Errorf("server processes left on the host after Stop: %v", left)
	}
}

// processesIn lists the pids in a namespace whose command is bin.
func processesIn(ns, bin string) []string {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var left []string
	for _, pid := range strings.Fields(string(out)) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if strings.HasPrefix(string(cmdline), bin+"\x00") {
			left = append(left, pid)
		}
	}
	return left
}
