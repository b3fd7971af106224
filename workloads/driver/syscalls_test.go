package driver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// procReads returns this process's read system calls so far (syscr in
// /proc/self/io), a count the kernel keeps.
func procReads(t *testing.T) int64 { return procStat(t, "syscr: ") }

// procStat returns the counter of /proc/self/io whose line starts with
// prefix.
func procStat(t *testing.T, prefix string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io to count read system calls: %v", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(prefix)); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/io: %s%q: %v", prefix, v, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/self/io has no %q line:\n%s", prefix, b)
	return 0
}

// helperEnv makes the test binary run helperServer instead of its tests.
const helperEnv = "POOLBENCH_DRIVER_TEST_SERVER"

// TestMain runs helperServer in the child process startServer starts.
func TestMain(m *testing.M) {
	if resp := os.Getenv(helperEnv); resp != "" {
		helperServer(resp)
		return
	}
	os.Exit(m.Run())
}

// helperServer listens on loopback, prints its address, and answers every
// request on every connection with resp until its stdin closes.
func helperServer(resp string) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	raw := []byte(resp)
	for {
		nc, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer nc.Close()
			buf := make([]byte, 4096)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
				if _, err := nc.Write(raw); err != nil {
					return
				}
			}
		}()
	}
}

// startServer runs helperServer in a child process, so that this
// process's system call counts are the driver's alone, and returns its
// address.
func startServer(t *testing.T, resp string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+resp)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the server process printed no address: %v", err)
	}
	return strings.TrimSpace(addr)
}

// TestRoundTripOneReadPerRequest guards the raw read path: a round trip on
// a TCP connection makes one read system call, not a read into EAGAIN
// before parking and another once the response is there.
func TestRoundTripOneReadPerRequest(t *testing.T) {
	// One P, as in poolbench's load process: a read right after the write
	// would find nothing.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const conns, perConn = 4, 500
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	addr := startServer(t, resp)
	cs := make([]*Conn, conns)
	for i := range cs {
		nc, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = NewConn(nc, false)
	}
	req := NewGET("x", "/", 200, 5)
	before := procReads(t)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for range perConn {
				if err := c.RoundTrip(req); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	after := procReads(t)
	var driverReads int64
	for _, c := range cs {
		driverReads += c.reads
		c.CloseConn()
	}
	const n = conns * perConn
	got := float64(after-before) / n
	t.Logf("%.3f read system calls per request", got)
	if got > 1.2 {
		t.Errorf("%.2f read system calls per request (%d for %d requests), want at most 1.2: the driver reads before the response is there", got, after-before, n)
	}
	if driverReads < n || driverReads > n*13/10 {
		t.Errorf("the raw read path made %d reads for %d requests, want %d to %d: the round trips went around it", driverReads, n, n, n*13/10)
	}
}
