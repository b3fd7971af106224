package sysstat

import (
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestReadProcCountsThisProcess(t *testing.T) {
	before, err := ReadProc("self")
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU for a few clock ticks of CPU time (on a busy machine that
	// can take far longer in wall time: up to 5 s) and make real read/write
	// system calls.
	spinCPU(t, 60*time.Millisecond)
	f, err := os.CreateTemp(t.TempDir(), "io")
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := f.Write([]byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	after, err := ReadProc(strconv.Itoa(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if d.UserNanos+d.SysNanos <= 0 {
		t.Errorf("CPU time did not grow over 60 ms of spinning: %+v", d)
	}
	if d.WriteCalls < 50 || d.WriteBytes < 500 {
		t.Errorf("write calls %d, bytes %d: want ≥ 50 calls and ≥ 500 bytes", d.WriteCalls, d.WriteBytes)
	}
	if after.Voluntary+after.Involuntary <= 0 {
		t.Errorf("no context switches summed over threads: %+v", after)
	}
}

func TestReadProcMissing(t *testing.T) {
	if _, err := ReadProc("999999999"); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

func TestParseCPUs(t *testing.T) {
	in := "cpu  10 1 5 100 2 3 4 6 0 0\ncpu0 10 1 5 100 2 3 4 6 0 0\ncpu1 1 0 0 9 0 0 0 0 0 0\nintr 5\n"
	got, err := parseCPUs([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := CPU{Busy: (10 + 1 + 5 + 3 + 4) * tickNanos, Idle: (100 + 2) * tickNanos, Steal: 6 * tickNanos, IRQ: (3 + 4) * tickNanos}
	if got[0] != want {
		t.Errorf("cpu0 = %+v, want %+v", got[0], want)
	}
	if len(got) != 2 {
		t.Errorf("%d CPUs, want 2 (the aggregate line is not a CPU)", len(got))
	}
	if _, err := parseCPUs([]byte("intr 5\n")); err == nil {
		t.Error("no error without per-CPU lines")
	}
	if _, err := ReadCPUs(); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderValues(t *testing.T) {
	in := "TcpExt: A B ListenOverflows\nTcpExt: 1 2 3\nIpExt: X\nIpExt: 9\n"
	got, err := headerValues([]byte(in), "TcpExt")
	if err != nil {
		t.Fatal(err)
	}
	if got["ListenOverflows"] != 3 || got["A"] != 1 {
		t.Errorf("got %v", got)
	}
	if _, err := headerValues([]byte("TcpExt: A B\nTcpExt: 1\n"), "TcpExt"); err == nil {
		t.Error("no error on a short value line")
	}
	if _, err := headerValues([]byte(in), "Udp"); err == nil {
		t.Error("no error for a missing table")
	}
}

// TestReadTCPSeesLoopbackConnections opens real loopback connections and
// checks the active and passive open counters moved by at least as many.
func TestReadTCPSeesLoopbackConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c) //nolint:errcheck
			c.Close()
		}
	}()
	before, err := ReadTCP()
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	after, err := ReadTCP()
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if d.ActiveOpens < n || d.PassiveOpens < n {
		t.Errorf("active opens +%d, passive +%d after %d dials: want ≥ %d each", d.ActiveOpens, d.PassiveOpens, n, n)
	}
}

func TestProbe(t *testing.T) {
	p, err := RunProbe(0)
	if err != nil {
		t.Fatal(err)
	}
	if p.LoopNanos <= 0 || p.SyscallNanos <= 0 || p.CPU != 0 {
		t.Fatalf("probe %+v: want positive times on cpu 0", p)
	}
	slow := Probe{LoopNanos: p.LoopNanos * 3 / 2, SyscallNanos: p.SyscallNanos}
	if got := slow.Slower(p); got < 0.49 || got > 0.51 {
		t.Errorf("Slower of a 1.5× loop = %.3f, want 0.5", got)
	}
	if _, err := RunProbe(1 << 16); err == nil {
		t.Error("no error pinning to a CPU that does not exist")
	}
}

// spinCPU spins until this process has used want of CPU time by its own
// rusage, or 5 s of wall time have passed.
func spinCPU(t *testing.T, want time.Duration) {
	t.Helper()
	var ru0, ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0) //nolint:errcheck
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck
		if time.Duration(ru.Utime.Nano()-ru0.Utime.Nano()) >= want {
			return
		}
	}
}
