package hosts_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/poolbench/poolbench/bench/hosts"
	"github.com/poolbench/poolbench/bench/hosts/netnstest"
	"github.com/poolbench/poolbench/bench/merge"
	"github.com/poolbench/poolbench/bench/runner"
)

// TestRunAcrossHosts drives `poolbench run --server-host … --load-hosts …`
// itself, with a short keep-alive and a short bursty cell, across the
// namespace lab (one server host, two load hosts), through ssh prefixes
// and through `ip netns exec` prefixes. For every cell it checks that the
// merged line's requests equal the sum of the load hosts' own counts in
// the window, and that these plus the hosts' warm-up counts equal the
// server's own count over the cell, exactly, and that re-merging the files
// each host kept (`poolbench merge`'s input) gives the same line.
func TestRunAcrossHosts(t *testing.T) {
	eachVia(t, runAcrossHosts)
}

func runAcrossHosts(t *testing.T, lab *netnstest.Lab, bin string, pick func(*netnstest.Host) hosts.Host) {
	var loads []string
	for _, h := range lab.Loads {
		loads = append(loads, pick(h).String())
	}
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "run", "-out", out, "-count", "1", "-json",
		"-models", "fasthttp", "-loads", "keepalive,bursty",
		"-keepalive-conns", "4", "-duration", "1s", "-warmup", "200ms",
		"-gaps", "100ms", "-rate", "200", "-on", "200ms", "-bursts", "2",
		"-server-cpus", "", "-load-cpus", "",
		"-server-host", pick(lab.Server).String(), "-load-hosts", strings.Join(loads, ","),
		"-server-addr", lab.Server.Addr+":0", "-allow-remote", "-ship")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("poolbench run across hosts: %v\n%s", err, stderr.String())
	}
	var cells []runner.CellResult
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var res runner.CellResult
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("run -json line %q: %v", sc.Text(), err)
		}
		cells = append(cells, res)
	}
	if len(cells) != 2 {
		t.Fatalf("run printed %d cell results, want 2 (keepalive and bursty)", len(cells))
	}
	// Each load host's own results, as the run kept them.
	var perHost [][]merge.HostResult
	for i := range lab.Loads {
		rs, err := merge.ReadFile(filepath.Join(out, "hosts", "load-host-"+strconv.Itoa(i+1)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		perHost = append(perHost, rs)
	}
	remerged, err := merge.Lines(perHost)
	if err != nil {
		t.Fatal(err)
	}
	benchTxt, err := os.ReadFile(filepath.Join(out, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "load-host-count: 2\n"; !bytes.Contains(benchTxt, []byte(want)) {
		t.Errorf("bench.txt lacks the file-level key %q:\n%s", want, benchTxt)
	}
	for i, res := range cells {
		if res.Hosts == nil || len(res.Hosts.Loads) != len(lab.Loads) {
			t.Fatalf("%s: want one report per load host, got %+v", res.Cell, res.Hosts)
		}
		var sum, warm int64 // the hosts' window and warm-up counts
		var shown []string
		for _, hr := range res.Hosts.Loads {
			if hr.Report.OK == 0 || hr.Report.Errors.Total() != 0 {
				t.Errorf("%s on %s: %d ok, errors %v (%s)", res.Cell, hr.Host, hr.Report.OK, hr.Report.Errors, hr.Report.FirstError)
			}
			sum += hr.Report.OK
			warm += hr.Report.WarmupOK
			shown = append(shown, fmt.Sprintf("%s %d (+%d warm-up)", hr.Host, hr.Report.OK, hr.Report.WarmupOK))
		}
		line := lineOf(benchTxt, res.Cell)
		t.Logf("%s: per host %s; merged %d; server served %d; bench.txt: %s", res.Cell, strings.Join(shown, ", "), res.Iters, res.Hosts.Served, line)
		// The server counts the whole cell, warm-up included; the line, the window.
		if res.Iters != sum || sum+warm != res.Hosts.Served {
			t.Errorf("%s: merged %d, hosts' sum %d (+%d warm-up), server served %d: want merged = sum and sum + warm-up = served", res.Cell, res.Iters, sum, warm, res.Hosts.Served)
		}
		if strings.Contains(res.Cell, "load=keepalive") && warm == 0 {
			t.Errorf("%s: no warm-up requests counted, want some (-warmup 200ms)", res.Cell)
		}
		if f := strings.Fields(line); len(f) < 2 || f[1] != strconv.FormatInt(res.Iters, 10) {
			t.Errorf("%s: bench.txt line %q: want %d iterations", res.Cell, line, res.Iters)
		}
		if remerged[i].Cell != res.Cell || remerged[i].Iters != res.Iters {
			t.Errorf("re-merging the kept host files: %s %d, want %s %d", remerged[i].Cell, remerged[i].Iters, res.Cell, res.Iters)
		}
	}
	if left := servesIn(lab.Server.NS); len(left) > 0 {
		t.Errorf("processes left on the server host after the run: %v", left)
	}
}

// lineOf is the bench.txt line of a cell ("" if none).
func lineOf(benchTxt []byte, cell string) string {
	for _, l := range strings.Split(string(benchTxt), "\n") {
		if strings.HasPrefix(l, "Benchmark"+cell+" ") || strings.HasPrefix(l, "Benchmark"+cell+"\t") {
			return l
		}
	}
	return ""
}

// servesIn lists the pids in a namespace running `poolbench serve`.
func servesIn(ns string) []string {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var left []string
	for _, pid := range strings.Fields(string(out)) {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if args := strings.Split(string(cmdline), "\x00"); len(args) > 1 && strings.Contains(args[0], "poolbench") && args[1] == "serve" {
			left = append(left, pid)
		}
	}
	return left
}
