// Package netnstest builds a small multi-host lab on one machine for tests:
// network namespaces, one server host and N load hosts, joined by veth pairs
// to a bridge that lives in a namespace of its own, so the root namespace has
// no interface in the lab's address range and no route into it. Each host
// runs a real OpenSSH server on its lab address with a throwaway host key;
// ssh from the root namespace reaches it through
// `ProxyCommand ip netns exec <ns> nc %h %p`, so no packet leaves the lab.
//
// It needs root, iproute2, OpenSSH's sshd and ssh, and netcat-openbsd; New
// skips the test with one message saying what is missing.
package netnstest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/bench/hosts"
)

// NamePrefix starts the name of every namespace a lab makes, followed by
// the creating process's pid: Clean removes those whose process is gone.
const NamePrefix = "pbhost"

// Subnet is the lab's private address range; it exists only inside the
// lab's namespaces.
const Subnet = "10.215.15"

// Host is one lab host: a namespace with an sshd on its address.
type Host struct {
	// Name is the role, "srv" or "lg1", "lg2", …; NS the namespace.
	Name, NS string
	// Addr is the host's lab address (no port).
	Addr string
	// SSH reaches the host through ssh; Netns through ip netns exec.
	SSH, Netns hosts.Host
	sshd       *exec.Cmd
}

// Lab is a server host and load hosts in namespaces.
type Lab struct {
	Server *Host
	Loads  []*Host
	// Dir holds the keys and ssh configuration.
	Dir    string
	bridge string

	once sync.Once
	log  func(string, ...any)
}

// New makes a lab of one server and loads load hosts and removes it when
// the test ends (also on SIGINT and SIGTERM). It skips the test where
// namespaces or sshd are not available.
func New(t testing.TB, loads int) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netnstest: needs root to make network namespaces")
	}
	for _, tool := range []string{"ip", "ssh", "ssh-keygen", "nc", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("netnstest: %s not found: apt-get install -y iproute2 openssh-server openssh-client netcat-openbsd", tool)
		}
	}
	Clean()
	pid := strconv.Itoa(os.Getpid())
	l := &Lab{Dir: t.TempDir(), bridge: NamePrefix + pid + "-br", log: t.Logf}
	if out, err := exec.Command("ip", "netns", "add", l.bridge).CombinedOutput(); err != nil {
		t.Skipf("netnstest: cannot make network namespaces here (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(l.Close)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	stopSig := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			l.Close()
			if s == syscall.SIGINT {
				os.Exit(130)
			}
			os.Exit(143)
		case <-stopSig:
		}
	}()
	t.Cleanup(func() { signal.Stop(sig); close(stopSig) })

	must := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("netnstest: %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
	}
	must("ip", "-n", l.bridge, "link", "add", "br0", "type", "bridge")
	must("ip", "-n", l.bridge, "link", "set", "br0", "up")
	names := []string{"srv"}
	for i := range loads {
		names = append(names, "lg"+strconv.Itoa(i+1))
	}
	for i, name := range names {
		h := &Host{Name: name, NS: NamePrefix + pid + "-" + name, Addr: Subnet + "." + strconv.Itoa(i+1)}
		must("ip", "netns", "add", h.NS)
		must("ip", "-n", l.bridge, "link", "add", "v"+name, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		must("ip", "-n", l.bridge, "link", "set", "v"+name, "master", "br0", "up")
		must("ip", "-n", h.NS, "addr", "add", h.Addr+"/24", "dev", "eth0")
		must("ip", "-n", h.NS, "link", "set", "eth0", "up")
		must("ip", "-n", h.NS, "link", "set", "lo", "up")
		h.Netns = hosts.Host{Prefix: []string{"ip", "netns", "exec", h.NS}}
		if i == 0 {
			l.Server = h
		} else {
			l.Loads = append(l.Loads, h)
		}
	}
	l.startSSH(t)
	return l
}

// All is the server followed by the load hosts.
func (l *Lab) All() []*Host { return append([]*Host{l.Server}, l.Loads...) }

// startSSH makes the keys and configuration and starts one sshd per host.
func (l *Lab) startSSH(t testing.TB) {
	t.Helper()
	keygen := func(path string) string {
		t.Helper()
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netnstest", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("netnstest: ssh-keygen: %v: %s", err, out)
		}
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(pub))
	}
	id := filepath.Join(l.Dir, "id")
	if err := os.WriteFile(filepath.Join(l.Dir, "authorized_keys"), []byte(keygen(id)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	var known, cfg strings.Builder
	for _, h := range l.All() {
		key := filepath.Join(l.Dir, "hostkey-"+h.Name)
		fields := strings.Fields(keygen(key))
		fmt.Fprintf(&known, "%s %s %s\n", h.NS, fields[0], fields[1])
		sshdCfg := filepath.Join(l.Dir, "sshd-"+h.Name+".conf")
		conf := fmt.Sprintf("ListenAddress %s:22\nHostKey %s\nAuthorizedKeysFile %s\nPidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowTcpForwarding yes\nLogLevel ERROR\n",
			h.Addr, key, filepath.Join(l.Dir, "authorized_keys"))
		if err := os.WriteFile(sshdCfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		h.sshd = exec.Command("ip", "netns", "exec", h.NS, "/usr/sbin/sshd", "-D", "-e", "-f", sshdCfg)
		h.sshd.Stderr = &logWriter{log: l.log, prefix: "sshd " + h.Name + ": "}
		h.sshd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := h.sshd.Start(); err != nil {
			t.Fatalf("netnstest: starting sshd in %s: %v", h.NS, err)
		}
		fmt.Fprintf(&cfg, "Host %s\n  HostName %s\n  HostKeyAlias %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  ProxyCommand ip netns exec %s nc %%h %%p\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n\n",
			h.Name, h.Addr, h.NS, id, h.NS, filepath.Join(l.Dir, "known_hosts"))
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "known_hosts"), []byte(known.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sshCfg := filepath.Join(l.Dir, "ssh_config")
	if err := os.WriteFile(sshCfg, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, h := range l.All() {
		h.SSH = hosts.Host{Prefix: []string{"ssh", "-F", sshCfg, h.Name}}
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := exec.Command("ssh", "-F", sshCfg, h.Name, "cat /proc/net/dev").CombinedOutput()
			if err == nil {
				if !bytes.Contains(out, []byte("eth0")) {
					t.Fatalf("netnstest: ssh %s reached a host without eth0: not the lab namespace", h.Name)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("netnstest: ssh %s: %v: %s", h.Name, err, bytes.TrimSpace(out))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// Close stops every process in the lab's namespaces and removes them.
func (l *Lab) Close() {
	l.once.Do(func() {
		for _, h := range l.All() {
			if h != nil && h.sshd != nil && h.sshd.Process != nil {
				syscall.Kill(-h.sshd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
				h.sshd.Wait()                                      //nolint:errcheck
			}
		}
		pid := strings.TrimPrefix(strings.TrimSuffix(l.bridge, "-br"), NamePrefix)
		removeNamespaces(func(_, owner string) bool { return owner == pid })
	})
}

// Clean removes the namespaces of labs whose process is gone (a killed
// test), with whatever still runs in them.
func Clean() {
	removeNamespaces(func(_, owner string) bool {
		_, err := os.Stat("/proc/" + owner)
		return os.IsNotExist(err)
	})
}

// removeNamespaces kills the processes of, and deletes, the lab
// namespaces for which del(name, owner pid) is true.
func removeNamespaces(del func(name, owner string) bool) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], NamePrefix) {
			continue
		}
		name := f[0]
		owner, _, _ := strings.Cut(strings.TrimPrefix(name, NamePrefix), "-")
		if !del(name, owner) {
			continue
		}
		if pids, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, p := range strings.Fields(string(pids)) {
				if n, err := strconv.Atoi(p); err == nil {
					syscall.Kill(n, syscall.SIGKILL) //nolint:errcheck
				}
			}
		}
		for range 50 {
			if exec.Command("ip", "netns", "del", name).Run() == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// inNS runs f on an OS thread switched into namespace ns, then switches
// the thread back. (A thread must not be thrown away: children it started
// with Pdeathsig would be killed with it.) Sockets f opens stay in ns.
func inNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back in its own namespace: reusable
		} // else: stays locked, and the runtime ends the thread with this goroutine
		errc <- err
	}()
	return <-errc
}

// Relay listens on the loopback of h's namespace and relays every
// connection to target, dialed from inside that namespace, so a command
// that only loads loopback servers reaches a server on another lab host
// across the bridge. It returns the loopback address; the relay stops
// when the test ends.
func (h *Host) Relay(t testing.TB, target string) string {
	t.Helper()
	var ln net.Listener
	if err := inNS(h.NS, func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatalf("netnstest: relay in %s: %v", h.NS, err)
	}
	t.Cleanup(func() { ln.Close() })
	hosts.AcceptEach(ln, func(c net.Conn) {
		defer c.Close()
		var up net.Conn
		if err := inNS(h.NS, func() (err error) { up, err = net.Dial("tcp", target); return err }); err != nil {
			return
		}
		defer up.Close()
		go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }() //nolint:errcheck
		io.Copy(c, up)                                                 //nolint:errcheck
	})
	return ln.Addr().String()
}

// logWriter sends lines to a test log.
type logWriter struct {
	log    func(string, ...any)
	prefix string
	mu     sync.Mutex
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line != "" {
			w.log("%s%s", w.prefix, line)
		}
	}
	return len(p), nil
}
