// Package hosts runs poolbench commands on other hosts through a command
// prefix: `ssh bench@server-host`, `ip netns exec lg1`, or nothing for this
// host. There is no agent and no protocol of poolbench's own: the prefix
// runs the same poolbench binary there (already on PATH, or shipped first
// with Ship), its stdout and stderr stream back through the prefix, and
// Process.Stop ends it there.
//
// Through ssh, the remote command is wrapped in a small POSIX sh script that
// ends it (SIGTERM) when its standard input reaches EOF, which happens when
// Stop closes ssh's stdin or when the ssh client dies: no tty (-tt) and no
// remote process is left behind. Other prefixes run locally (ip netns exec
// execs the command), so Stop signals their process group.
//
// The multi-machine recipe this serves:
//
//  1. ssh keys: `ssh-copy-id bench@server-host` (and each load host) so
//     `ssh bench@host true` runs without a prompt (BatchMode).
//  2. The binary: on PATH there, or shipped with Ship (--ship), which
//     copies it to a mktemp path through the same prefix.
//  3. The server's HTTP port listens on a non-loopback address only with
//     --allow-remote (CheckAddr); its control port stays on its loopback
//     and is read through Forward (`ssh -N -L`).
//  4. Load hosts start together at an absolute time (Options.StartAt); the
//     hosts' clocks must agree (NTP).
//  5. Each load host's results are merged by package merge (`poolbench
//     merge`); for ad-hoc fan-out, pdsh runs the same commands.
//
// `poolbench run --server-host … --load-hosts …` (bench/runner's Hosts)
// does all of it for every cell; docs/multihost.md is the recipe.
package hosts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is where a command runs: a command prefix, empty for this host.
type Host struct {
	// Prefix is the argv the command is appended to, e.g. ["ssh",
	// "bench@server-host"] or ["ip", "netns", "exec", "lg1"].
	Prefix []string
}

// Local is this host: commands run directly.
var Local = Host{}

// Parse reads a host prefix as a shell would split it: words separated by
// blanks, with single and double quotes and backslashes, e.g.
// `ssh -F cfg bench@lg1` or `ip netns exec lg1`. "" and "local" are this host.
func Parse(s string) (Host, error) {
	words, err := splitWords(s)
	if err != nil {
		return Host{}, fmt.Errorf("host %q: %w: quote it as a shell would, e.g. 'ssh bench@server-host'", s, err)
	}
	if len(words) == 1 && words[0] == "local" {
		words = nil
	}
	return Host{Prefix: words}, nil
}

// splitWords splits s into words as sh does (no expansions).
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// String is the prefix as one shell-quoted line ("local" for this host).
func (h Host) String() string {
	if len(h.Prefix) == 0 {
		return "local"
	}
	return ShellJoin(h.Prefix)
}

// IsSSH reports whether the prefix runs the OpenSSH client.
func (h Host) IsSSH() bool {
	return len(h.Prefix) > 0 && (h.Prefix[0] == "ssh" || strings.HasSuffix(h.Prefix[0], "/ssh"))
}

// Quote quotes one word for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+:,./@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes every word and joins them with spaces: the one command
// line ssh hands to the remote shell.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// watchStdin is the remote wrapper: it runs "$@" with /dev/null as stdin,
// and sends it SIGTERM once the wrapper's own stdin (ssh's) reaches EOF;
// it exits with the command's status. A start time (seconds since the
// epoch, fractional, or empty) is waited for first.
const watchStdin = `at=$1; shift
if [ -n "$at" ]; then
  d=$(awk -v t="$at" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; if (d > 0) printf "%.3f", d; else print 0 }')
  sleep "$d"
fi
exec 3<&0 0</dev/null
"$@" & p=$!
( cat <&3 >/dev/null 2>&1; kill -TERM $p 2>/dev/null ) >/dev/null 2>&1 &
exec 3<&-
wait $p`

// sleepUntil is the local wrapper's start-time wait.
const sleepUntil = `at=$1; shift
if [ -n "$at" ]; then
  d=$(awk -v t="$at" -v n="$(date +%s.%N)" 'BEGIN { d = t - n; if (d > 0) printf "%.3f", d; else print 0 }')
  sleep "$d"
fi
exec "$@"`

// Options tune one started command.
type Options struct {
	// Stdout and Stderr receive the command's output as it comes (nil
	// discards it).
	Stdout, Stderr io.Writer
	// StartAt, if set, is an absolute time the command waits for on its
	// host before it starts, so commands on several hosts start together
	// (the hosts' clocks must agree, e.g. through NTP).
	StartAt time.Time
}

// Process is a command started on a host.
type Process struct {
	host  Host
	cmd   *exec.Cmd
	stdin io.WriteCloser // ssh only: closing it ends the remote command
	done  chan struct{}
	err   error
}

// epoch formats t for the wrappers ("" for the zero time).
func epoch(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// Command is the local argv that runs argv on the host, wrapped so it can
// be stopped and can wait for startAt (zero: start at once).
func (h Host) Command(argv []string, startAt time.Time) []string {
	if h.IsSSH() {
		remote := append([]string{"sh", "-c", watchStdin, "poolbench-host", epoch(startAt)}, argv...)
		return append(append([]string(nil), h.Prefix...), ShellJoin(remote))
	}
	out := append([]string(nil), h.Prefix...)
	if !startAt.IsZero() {
		out = append(out, "sh", "-c", sleepUntil, "poolbench-host", epoch(startAt))
	}
	return append(out, argv...)
}

// Start starts argv (e.g. ["poolbench", "serve", "-json"]) on the host.
func (h Host) Start(argv []string, o Options) (*Process, error) {
	if len(argv) == 0 {
		return nil, errors.New("hosts: empty command")
	}
	full := h.Command(argv, o.StartAt)
	p := &Process{host: h, done: make(chan struct{})}
	p.cmd = exec.Command(full[0], full[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = o.Stdout, o.Stderr
	// Its own process group, so Stop reaches what the prefix started; and
	// killed with us, so nothing outlives a killed poolbench.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if h.IsSSH() {
		w, err := p.cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", strings.Join(argv, " "), h, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the command has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the command and returns its error (an *exec.ExitError
// for a non-zero exit, carrying the remote status through ssh).
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop asks the command to end, on its host: through ssh by closing its
// stdin (the wrapper sends SIGTERM), otherwise with SIGTERM to its process
// group; after grace it kills the local side (ssh's death also ends the
// remote command). It returns the command's exit error, nil when it ended
// because it was asked to (SIGTERM, or exit 143).
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	if p.stdin != nil {
		p.stdin.Close()
	} else {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck // it may have just exited
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		<-p.done
		return p.err
	}
	return stoppedOnRequest(p.err)
}

// stoppedOnRequest maps the ways a command ends when asked to stop to nil:
// killed by SIGTERM, or exiting 143 (poolbench's exit code for SIGTERM,
// also what a remote shell reports for a command it saw terminated).
func stoppedOnRequest(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return nil
	}
	if ee.ExitCode() == 143 {
		return nil
	}
	return err
}

// Output runs argv on the host to completion and returns its stdout; the
// error carries the last line of its stderr.
func (h Host) Output(ctx context.Context, argv []string, stdin io.Reader) ([]byte, error) {
	// Run to completion, so no stop wrapper: its stdin is the command's.
	full := append(append([]string(nil), h.Prefix...), argv...)
	if h.IsSSH() {
		full = append(append([]string(nil), h.Prefix...), ShellJoin(argv))
	}
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return out, fmt.Errorf("%s on %s: %v: %s", strings.Join(argv, " "), h, err, msg)
	}
	return out, nil
}

// Ship copies the local binary bin to a fresh temporary path on the host
// through the prefix itself (so every ssh option of the prefix applies,
// which scp would need translated) and returns that path and a function
// that removes it. On this host (no prefix) it returns bin unchanged.
func (h Host) Ship(ctx context.Context, bin string) (path string, remove func() error, err error) {
	if len(h.Prefix) == 0 {
		return bin, func() error { return nil }, nil
	}
	f, err := os.Open(bin)
	if err != nil {
		return "", nil, fmt.Errorf("--ship: %w", err)
	}
	defer f.Close()
	out, err := h.Output(ctx, []string{"sh", "-c", `f=$(mktemp /tmp/poolbench.XXXXXX) && cat > "$f" && chmod 755 "$f" && echo "$f"`}, f)
	if err != nil {
		return "", nil, fmt.Errorf("--ship: copying %s: %w", bin, err)
	}
	path = strings.TrimSpace(string(out))
	if !strings.HasPrefix(path, "/tmp/poolbench.") {
		return "", nil, fmt.Errorf("--ship: copying %s to %s: unexpected temporary path %q", bin, h, path)
	}
	return path, func() error {
		_, err := h.Output(context.Background(), []string{"rm", "-f", path}, nil)
		return err
	}, nil
}

// Forward makes a port on the host's loopback reachable on this host's
// loopback and returns the local address and a function that closes the
// forward. Through ssh it is a local port forward (`ssh -N -L
// 127.0.0.1:<free>:127.0.0.1:<port>`), so the remote port never leaves
// the remote loopback; through another prefix each connection runs
// `<prefix> nc -N 127.0.0.1 <port>` (netcat-openbsd on the host); on this
// host it is the address itself.
func (h Host) Forward(ctx context.Context, remote string) (local string, closeFn func(), err error) {
	_, port, err := net.SplitHostPort(remote)
	if err != nil {
		return "", nil, fmt.Errorf("forward %q: %w", remote, err)
	}
	if len(h.Prefix) == 0 {
		return remote, func() {}, nil
	}
	if !h.IsSSH() {
		return h.forwardEach(port)
	}
	free, err := FreePort()
	if err != nil {
		return "", nil, err
	}
	local = net.JoinHostPort("127.0.0.1", strconv.Itoa(free))
	argv := append([]string{h.Prefix[0], "-N", "-o", "ExitOnForwardFailure=yes",
		"-L", local + ":127.0.0.1:" + port}, h.Prefix[1:]...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("forward through %s: %w", h, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // reported through exited
	closeFn = func() {
		cmd.Process.Kill() //nolint:errcheck
		<-exited
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", local, time.Second)
		if err == nil {
			c.Close()
			return local, closeFn, nil
		}
		select {
		case <-exited:
			return "", nil, fmt.Errorf("forward through %s ended: %s", h, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			closeFn()
			return "", nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			closeFn()
			return "", nil, fmt.Errorf("forward through %s: %s not open within 15s: %s", h, local, strings.TrimSpace(stderr.String()))
		}
	}
}

// forwardEach listens on this host's loopback and pipes every connection
// through `<prefix> nc -N 127.0.0.1 <port>`.
func (h Host) forwardEach(port string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	argv := h.Command([]string{"nc", "-N", "127.0.0.1", port}, time.Time{})
	AcceptEach(ln, func(c net.Conn) {
		defer c.Close()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err1 := cmd.StdinPipe()
		out, err2 := cmd.StdoutPipe()
		if err1 != nil || err2 != nil || cmd.Start() != nil {
			return
		}
		go func() { io.Copy(in, c); in.Close() }() //nolint:errcheck // ends with either side
		io.Copy(c, out)                            //nolint:errcheck // nc's exit ends it
		c.Close()
		cmd.Wait() //nolint:errcheck
	})
	return ln.Addr().String(), func() { ln.Close() }, nil
}

// FreePort is a TCP port free on this host's loopback right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// AcceptEach hands every connection ln accepts to handle, each in its own
// goroutine, until ln is closed.
func AcceptEach(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}
