package driver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// procStat returns the counter of /proc/self/io whose line starts with
// prefix (syscr: read system calls, syscw: writes), counts the kernel
// keeps for this process.
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
