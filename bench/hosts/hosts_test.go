package hosts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"local", nil},
		{"ssh bench@server-host", []string{"ssh", "bench@server-host"}},
		{"  ip netns exec lg1 ", []string{"ip", "netns", "exec", "lg1"}},
		{`ssh -o 'ProxyCommand=ip netns exec a nc %h %p' h`, []string{"ssh", "-o", "ProxyCommand=ip netns exec a nc %h %p", "h"}},
		{`ssh -o "User=\"x\"" a\ b`, []string{"ssh", "-o", `User="x"`, "a b"}},
	}
	for _, tt := range tests {
		h, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if !reflect.DeepEqual(h.Prefix, tt.want) {
			t.Errorf("Parse(%q) = %q, want %q", tt.in, h.Prefix, tt.want)
		}
		if again, _ := Parse(h.String()); !reflect.DeepEqual(again.Prefix, tt.want) {
			t.Errorf("Parse(String()) of %q = %q, want %q", tt.in, again.Prefix, tt.want)
		}
	}
	for _, bad := range []string{"ssh 'open", `ssh "open`, `ssh \`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted, want an error", bad)
		}
	}
}

// TestShellJoin runs the joined line through a real sh, as ssh's remote
// shell would, and checks every argument arrives intact.
func TestShellJoin(t *testing.T) {
	t.Parallel()
	args := []string{"plain", "", "two words", "it's", `"dq"`, "$HOME", "`id`", "a;b", "*", "new\nline", "-variant=pool=on/conv=off", `back\slash`}
	out, err := exec.Command("sh", "-c", "printf '%s\\0' "+ShellJoin(args)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, args) {
		t.Fatalf("through sh: %q, want %q", got, args)
	}
}

// TestWatchStdin runs the ssh-side wrapper locally: EOF on its stdin (what
// closing ssh's stdin or killing the ssh client causes remotely) must end
// the command with SIGTERM, and a command's own exit status must come back.
func TestWatchStdin(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sh", "-c", watchStdin, "poolbench-host", "", "sh", "-c", `trap 'echo got-term; exit 7' TERM; echo started; while :; do sleep 0.05; done`)
	var out bytes.Buffer
	cmd.Stdout = &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("wrapper ended before its stdin closed: %v (%s)", err, out.String())
	default:
	}
	stdin.Close()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 || !strings.Contains(out.String(), "got-term") {
			t.Fatalf("after stdin EOF: err %v, output %q; want exit 7 after got-term", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the command still runs 30s after its stdin closed")
	}

	// Its own status passes through while stdin stays open.
	cmd = exec.Command("sh", "-c", watchStdin, "poolbench-host", "", "sh", "-c", "exit 3")
	stdin, _ = cmd.StdinPipe()
	defer stdin.Close()
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit status: %v, want 3", err)
	}
}

// TestStartStopPrefix starts through a real local prefix (env), streams
// output, and stops the process group.
func TestStartStopPrefix(t *testing.T) {
	t.Parallel()
	h, _ := Parse("env POOLBENCH_HOST_TEST=lg1")
	pr, pw := io.Pipe()
	p, err := h.Start([]string{"sh", "-c", `echo "host $POOLBENCH_HOST_TEST"; exec sleep 60`}, Options{Stdout: pw})
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 9)
	if _, err := io.ReadFull(pr, line); err != nil || string(line) != "host lg1\n" {
		t.Fatalf("streamed %q, %v; want %q", line, err, "host lg1\n")
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck
	// Ended by the SIGTERM Stop sent: a clean stop, no error.
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v, want nil (ended by the SIGTERM it was sent)", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process ended")
	}
}

// TestStartAt checks commands wait for an absolute start time.
func TestStartAt(t *testing.T) {
	t.Parallel()
	for _, h := range []Host{Local, {Prefix: []string{"env"}}} {
		at := time.Now().Add(1500 * time.Millisecond)
		var out bytes.Buffer
		p, err := h.Start([]string{"date", "+%s.%N"}, Options{Stdout: &out, StartAt: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		sec, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
		if err != nil {
			t.Fatalf("%s: date printed %q: %v", h, out.String(), err)
		}
		if started := time.Unix(0, int64(sec*1e9)); started.Before(at.Add(-50 * time.Millisecond)) {
			t.Errorf("%s: started at %v, before the start time %v", h, started, at)
		}
	}
	// The ssh-side wrapper waits the same way (run here through sh).
	at := time.Now().Add(1500 * time.Millisecond)
	cmd := exec.Command("sh", "-c", watchStdin, "poolbench-host", epoch(at), "date", "+%s.%N")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("date printed %q: %v", out, err)
	}
	if started := time.Unix(0, int64(sec*1e9)); started.Before(at.Add(-50 * time.Millisecond)) {
		t.Errorf("ssh wrapper: started at %v, before the start time %v", started, at)
	}
}

// TestShipAndForward ships a file through a local prefix and forwards a
// loopback port through it.
func TestShipAndForward(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nc"); err != nil {
		t.Skip("nc (netcat-openbsd) is not installed: apt-get install -y netcat-openbsd")
	}
	h := Host{Prefix: []string{"env"}}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path, remove, err := h.Ship(context.Background(), self)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(self)
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("shipped %s: %d bytes, %v; want the %d bytes of %s", path, len(b), err, len(a), self)
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s still there after remove: %v", path, err)
	}

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
			go func() { defer c.Close(); io.Copy(c, c) }() //nolint:errcheck
		}
	}()
	local, closeFwd, err := h.Forward(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer closeFwd()
	if local == ln.Addr().String() {
		t.Fatalf("Forward through a prefix returned the remote address itself")
	}
	for i := range 3 {
		c, err := net.Dial("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("ping " + string(rune('a'+i)))
		c.Write(msg) //nolint:errcheck
		got := make([]byte, len(msg))
		c.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo through the forward: %q, %v; want %q", got, err, msg)
		}
		c.Close()
	}
}
