package runner

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/poolbench/poolbench/internal/check"
)

// ParseCPUList parses a CPU list such as "0", "1-3" or "0,2".
func ParseCPUList(s string) ([]int, error) { return check.ParseCPUs(s) }

// PinSelf restricts every thread of this process to cpus (a CPU list). Go
// threads started later inherit the mask from the thread that creates them.
// It returns the CPU list the kernel reports afterwards.
func PinSelf(cpuList string) (string, error) {
	cpus, err := ParseCPUList(cpuList)
	if err != nil {
		return "", err
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= 1024 {
			return "", fmt.Errorf("cpu %d is out of range", c)
		}
		set.Set(c)
	}
	// Twice: a thread may be created while the first pass runs.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return "", fmt.Errorf("pinning to cpus %s: listing threads: %w", cpuList, err)
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(t.Name())
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return "", fmt.Errorf("pinning to cpus %s: %w (is the cpu online? see nproc)", cpuList, err)
			}
		}
	}
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(0, &got); err != nil {
		return "", fmt.Errorf("reading the cpu mask back: %w", err)
	}
	var list []string
	for c := range 1024 {
		if got.IsSet(c) {
			list = append(list, strconv.Itoa(c))
		}
	}
	return strings.Join(list, ","), nil
}
