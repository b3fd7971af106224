package runner

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/perf/benchunit"

	"github.com/poolbench/poolbench/bench"
	"github.com/poolbench/poolbench/bench/results"
	"github.com/poolbench/poolbench/servers"
	"github.com/poolbench/poolbench/servers/app"
	"github.com/poolbench/poolbench/workloads/clients"
)

// binary is a poolbench built for these tests.
var binary string

func TestMain(m *testing.M) {
	if slices.ContainsFunc(os.Args, func(a string) bool { return strings.HasPrefix(a, "-test.fuzzworker") }) {
		os.Exit(m.Run()) // a fuzz worker runs only fuzz targets: no binary needed
	}
	dir, err := os.MkdirTemp("", "poolbench-runner-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "poolbench")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/poolbench/poolbench/cmd/poolbench").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building poolbench: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// quick settings keep test cells short; the verdicts do not depend on speed.
var quick = Settings{Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, MaxIdleWorkerDuration: time.Second,
	ServerCPUs: "1", LoadCPUs: "0", ServerProcs: 1, LoadProcs: 1}

func testCell(t *testing.T, model, load string, conns int) Cell {
	t.Helper()
	m, err := servers.Lookup(model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Loads().Lookup(load)
	if err != nil {
		t.Fatal(err)
	}
	// Short settings, set through the workloads' own flags.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	w.Flags(fs)
	for name, value := range map[string]string{"rate": "500", "on": "200ms", "off": "300ms", "bursts": "2", "hold": "100ms"} {
		if fs.Lookup(name) != nil {
			if err := fs.Set(name, value); err != nil {
				t.Fatal(err)
			}
		}
	}
	route, err := app.Routes.Lookup("app")
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]string
	if w.Name() == "bursty" {
		keys = map[string]string{"gap": "300ms"}
	}
	v := app.AllOn
	return Cell{Axes: bench.Axes{Model: m, Route: route, Load: w, Conns: conns, Variant: &v}, Keys: keys}
}

// children lists the live processes whose parent is this test.
func children(t *testing.T) []int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	var pids []int
	me := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == me {
			pid, _ := strconv.Atoi(e.Name())
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestRunWritesEveryWorkload(t *testing.T) {
	dir := t.TempDir()
	r := &Runner{Binary: binary, Dir: dir, Settings: quick, Count: 1}
	var cells []Cell
	for _, m := range servers.Names() {
		cells = append(cells, testCell(t, m, "keepalive", 4), testCell(t, m, "shortlived", 4), testCell(t, m, "bursty", 0), testCell(t, m, "idle", 50))
	}
	for _, cm := range clients.Models {
		c := testCell(t, "fasthttp", "client", 8)
		c.Load.(*ClientKind).Client = cm.Name
		c.Keys = map[string]string{"client": cm.Name}
		cells = append(cells, c)
	}
	if err := r.Run(context.Background(), cells); err != nil {
		t.Fatal(err)
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
	got, err := results.Read(filepath.Join(dir, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		res := got[c.Name()]
		if res == nil {
			t.Errorf("bench.txt has no line for %s", c.Name())
			continue
		}
		if res.GetConfig("server-cpus") != "1" || res.GetConfig("load-cpus") != "0" || res.GetConfig("server-gomaxprocs") != "1" {
			t.Errorf("%s: file keys server-cpus=%q load-cpus=%q server-gomaxprocs=%q, want 1, 0, 1", c.Name(),
				res.GetConfig("server-cpus"), res.GetConfig("load-cpus"), res.GetConfig("server-gomaxprocs"))
		}
		want := []string{"req/s", "p99-ns", "cpu-ns/op", "allocs/op", "B/op", "peak-RSS-bytes", "errors"}
		if c.Load.Traits().PerConn {
			want = []string{"rss-bytes/conn", "heap-bytes/conn", "goroutines/conn", "peak-RSS-bytes", "errors"}
			if res.Iters != c.Conns {
				t.Errorf("%s: %d iterations, want %d connections", c.Name(), res.Iters, c.Conns)
			}
		}
		switch c.Load.Name() {
		case "shortlived", "bursty":
			want = append(want, "connects/s", "timewait-socks")
		case "client":
			want = append(want, "dials/1k-req", "timewait-socks")
		}
		for _, u := range want {
			_, u = benchunit.Tidy(1, u) // benchfmt reads p99-ns as p99-sec
			if _, ok := res.Value(u); !ok {
				t.Errorf("%s: no %s metric", c.Name(), u)
			}
		}
		if v, _ := res.Value("errors"); v != 0 {
			t.Errorf("%s: %v errors", c.Name(), v)
		}
	}
	bins, _ := filepath.Glob(filepath.Join(dir, "vegeta", "*", "client=driver", "*", "load=bursty", "*", "*", "*", "*", "*", "*.vegeta.bin"))
	if len(bins) != 2 {
		t.Errorf("vegeta results for bursty cells: %v, want one per model", bins)
	}
}

func TestServerDiesMidCell(t *testing.T) {
	s := quick
	s.Duration = 5 * time.Second
	var serverPID, loadPID int
	r := &Runner{Binary: binary, Dir: t.TempDir(), Settings: s, Count: 1,
		OnServer: func(pid int) { serverPID = pid },
		OnLoad: func(pid int) {
			loadPID = pid
			srv := serverPID // the cell runs again after it fails: each run kills its own server
			time.AfterFunc(800*time.Millisecond, func() { syscall.Kill(srv, syscall.SIGKILL) })
		},
	}
	start := time.Now()
	err := r.Run(context.Background(), []Cell{testCell(t, "nethttp", "keepalive", 4)})
	if err == nil || !strings.Contains(err.Error(), "the server died mid-cell: server (pid "+strconv.Itoa(serverPID)+") exited: signal: killed") {
		t.Fatalf("Run error = %v, want it to say the server died mid-cell, killed", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("Run took %v: it should stop as soon as the server dies, not wait out the window", time.Since(start))
	}
	for _, pid := range []int{serverPID, loadPID} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after the failed cell (kill -0: %v)", pid, err)
		}
	}
	if kids := children(t); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
}

// oneLineFailure runs poolbench and returns its stderr, requiring a
// non-zero exit and a single line.
func oneLineFailure(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("%v did not exit", cmd.Args)
	}
	if err == nil {
		t.Fatalf("%v succeeded, want a failure", cmd.Args)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") > 0 || msg == "" {
		t.Fatalf("%v: stderr %q, want one line", cmd.Args, msg)
	}
	return msg
}

func TestOneLineErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		cmd  *exec.Cmd
		want string
	}{
		{"port in use", exec.Command(binary, "serve", "-addr", busy.Addr().String()),
			"address already in use: stop whatever holds the port, or use port 0"},
		{"fd limit", exec.Command("sh", "-c", "ulimit -n 200 && exec "+binary+" load -workload idle -conns 1000 -addr 127.0.0.1:9"),
			"conns=1000 needs 1064 open files but RLIMIT_NOFILE is 200 (hard 200): raise it"},
		{"unknown model", exec.Command(binary, "serve", "-model", "nginx"), `unknown server model "nginx"`},
		{"bad variant", exec.Command(binary, "serve", "-variant", "pool=maybe"), "a switch is on or off"},
		{"not loopback", exec.Command(binary, "load", "-addr", "192.0.2.1:80"), "want a loopback address"},
		{"bad sweep", exec.Command(binary, "run", "-keepalive-conns", "1,many"), `-keepalive-conns "1,many": "many" is not a positive integer`},
		{"bad gap", exec.Command(binary, "run", "-gaps", "soon"), `-gaps "soon": "soon" is not a duration`},
		{"bad rate", exec.Command(binary, "run", "-rate", "0"), `-rate 0: want requests per second ≥ 1`},
		{"bad hold", exec.Command(binary, "load", "-workload", "idle", "-hold", "0s", "-addr", "127.0.0.1:9"), `-hold 0s: want a duration > 0`},
		{"unknown client", exec.Command(binary, "run", "-clients", "curl"), `unknown client model "curl": want one of fasthttp,`},
		{"control not loopback", exec.Command(binary, "serve", "-control", "0.0.0.0:0"), "the control port serves profiles: it never leaves loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := oneLineFailure(t, tt.cmd); !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestCellNamesFollowKeys(t *testing.T) {
	t.Parallel()
	cells, err := DefaultMatrix().Cells()
	if err != nil {
		t.Fatal(err)
	}
	// 2 models × (5 keepalive + 2 shortlived + 2 gaps) + idle: 2 sizes × 3 (fasthttp ×2 mem, nethttp)
	// + 4 client models × 1 concurrency
	if want := 2*(5+2+2) + 2*3 + 4; len(cells) != want {
		t.Fatalf("%d default cells, want %d", len(cells), want)
	}
	seen := map[string]bool{}
	for _, c := range cells {
		parts := strings.Split(c.Path(), "/")
		if len(parts) != len(Keys()) {
			t.Fatalf("%s: %d parts, want %d", c.Name(), len(parts), len(Keys()))
		}
		for i, k := range Keys() {
			if !strings.HasPrefix(parts[i], k+"=") {
				t.Errorf("%s: part %d is %q, want key %s", c.Name(), i, parts[i], k)
			}
		}
		if seen[c.Name()] {
			t.Errorf("duplicate cell %s", c.Name())
		}
		seen[c.Name()] = true
	}
}
