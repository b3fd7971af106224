package observe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsEnv marks a process Isolate started in its own namespace.
const netnsEnv = "POOLBENCH_SCENARIOS_NETNS"

// NetnsCommand runs exe with this process's arguments in a new user and
// network namespace (its own loopback and socket table), killed with its
// parent.
func NetnsCommand(ctx context.Context, exe string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exe, os.Args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	return cmd
}

// InNetns reports whether this process is the one Isolate started.
func InNetns() bool { return os.Getenv(netnsEnv) != "" }

// Isolate re-runs this process (same arguments, stdio and environment) in
// a fresh user and network namespace and returns its exit code, so a
// scenario or test counts only its own sockets: the host's TIME_WAIT table may
// be full of other programs' sockets (past tcp_max_tw_buckets the kernel
// stops keeping TIME_WAIT, and the churn scenarios would see none). ok is
// false where namespaces are not allowed, or already inside one: run in
// place.
func Isolate() (code int, ok bool) {
	if os.Getenv(netnsEnv) != "" {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	cmd := NetnsCommand(context.Background(), exe)
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, false
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	if err != nil {
		return 1, true
	}
	return 0, true
}

// LoUp brings the namespace's loopback interface up.
func LoUp() error { return setLo(true) }

// LoDown takes the namespace's loopback interface down: established
// loopback connections stay open but every packet is dropped, so each
// peer goes silent (no FIN, no RST) — a pulled cable.
func LoDown() error { return setLo(false) }

func setLo(up bool) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo's flags: %w", err)
	}
	flags, what := ifr.Uint16()|unix.IFF_UP, "up"
	if !up {
		flags, what = ifr.Uint16()&^unix.IFF_UP, "down"
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo %s: %w", what, err)
	}
	return nil
}
