package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process: its own process group, killed if this process
// dies (Pdeathsig), its stderr kept for error messages.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr tail
	done   chan struct{} // closed once the process has been waited for
	err    error         // the Wait result, valid after done
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

// LastLine is the last non-empty line written, for one-line errors.
func (t *tail) LastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func startProc(name, bin string, args []string, env []string, stdout io.Writer) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = stdout
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the child's process id.
func (p *proc) PID() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// why describes how the process ended, with its last line of stderr.
func (p *proc) why() string {
	msg := fmt.Sprintf("%s (pid %d) exited: %v", p.name, p.PID(), p.err)
	if p.err == nil {
		msg = fmt.Sprintf("%s (pid %d) exited", p.name, p.PID())
	}
	if l := p.stderr.LastLine(); l != "" {
		msg += ": " + l
	}
	return msg
}

// stop asks the process group to end (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	syscall.Kill(-p.PID(), syscall.SIGCONT) // a stopped process would hold SIGTERM until the grace ends
	syscall.Kill(-p.PID(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// kill kills the whole process group and waits for the process.
func (p *proc) kill() {
	syscall.Kill(-p.PID(), syscall.SIGKILL)
	<-p.done
}

// server is a running `poolbench serve` child.
type server struct {
	*proc
	Ready Ready
}

// startServer starts a server child and waits for its ready line.
func startServer(ctx context.Context, bin string, args, env []string) (*server, error) {
	pr, pw := io.Pipe()
	p, err := startProc("server", bin, args, env, pw)
	if err != nil {
		return nil, err
	}
	go func() { <-p.done; pw.Close() }()
	lines := firstLine(pr) // hosts.go
	s := &server{proc: p}
	select {
	case line := <-lines:
		if len(bytes.TrimSpace(line)) == 0 {
			<-p.done
			return nil, errors.New(p.why())
		}
		if err := json.Unmarshal(line, &s.Ready); err != nil {
			p.kill()
			return nil, fmt.Errorf("server ready line %q: %w", line, err)
		}
		return s, nil
	case <-time.After(15 * time.Second):
		p.kill()
		return nil, errors.New("server did not announce itself within 15s")
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	}
}

// runLoad runs a load child to completion while watching the server: if
// the server dies first, the load is killed and the error says so.
func runLoad(ctx context.Context, bin string, args, env []string, srv *server, onStart func(pid int)) (*LoadReport, error) {
	var out bytes.Buffer
	p, err := startProc("load", bin, args, env, &out)
	if err != nil {
		return nil, err
	}
	if onStart != nil {
		onStart(p.PID())
	}
	// The server is watched while the load runs: a server stopped by a
	// signal (SIGSTOP, SIGTSTP) fails the cell at once, as it would
	// otherwise record a stalled window as a sample.
	tick := time.NewTicker(stallPoll)
	defer tick.Stop()
wait:
	for {
		select {
		case <-p.done:
			break wait
		case <-srv.done:
			p.kill()
			return nil, fmt.Errorf("the server died mid-cell: %s", srv.why())
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-tick.C:
			if procState(srv.PID()) == 'T' {
				p.kill()
				return nil, fmt.Errorf("the server (pid %d) was stopped (SIGSTOP) mid-cell: its window is not a sample", srv.PID())
			}
		}
	}
	if p.err != nil {
		// The load may notice a dead server before this process reaps it.
		select {
		case <-srv.done:
		case <-time.After(200 * time.Millisecond):
		}
		if srv.exited() {
			return nil, fmt.Errorf("the server died mid-cell: %s", srv.why())
		}
		return nil, errors.New(p.why())
	}
	var rep LoadReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("load report %q: %w", out.String(), err)
	}
	rep.loadUsage = loadRusage(p) // noise: the load's own CPU time (noise.go)
	return &rep, nil
}

// stallPoll is how often a running cell checks that its server is not stopped.
const stallPoll = 20 * time.Millisecond

// procState is the state letter of /proc/<pid>/stat ('R', 'S', 'T' for
// stopped, ...), 0 if unreadable.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}
