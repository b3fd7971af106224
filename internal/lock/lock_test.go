package lock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDirRefusesASecondHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to an open file: a second open, even in this
	// process, is a second holder.
	_, err = Dir(dir)
	var he *HeldError
	if !errors.As(err, &he) || he.PID != os.Getpid() {
		t.Fatalf("second Dir = %v, want a HeldError naming pid %d", err, os.Getpid())
	}
	if want := "is in use by poolbench pid " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	l.Release()
	if _, err := os.Stat(filepath.Join(dir, PIDFile)); !os.IsNotExist(err) {
		t.Errorf("Release left %s behind (stat: %v)", PIDFile, err)
	}
	l2, err := Dir(dir)
	if err != nil {
		t.Fatalf("Dir after Release = %v, want the lock", err)
	}
	l2.Release()
}

func TestCPUsAllOrNone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := CPUs(dir, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	_, err = CPUs(dir, []int{0, 1})
	var he *HeldError
	if !errors.As(err, &he) || he.What != "cpu 1" || he.PID != os.Getpid() {
		t.Fatalf("CPUs(0,1) with cpu 1 held = %v, want a HeldError for cpu 1 naming pid %d", err, os.Getpid())
	}
	// All or none: cpu 0 was released when cpu 1 refused.
	b, err := CPUs(dir, []int{0})
	if err != nil {
		t.Fatalf("CPUs(0) after a refused CPUs(0,1) = %v: the refused call kept cpu 0", err)
	}
	b.Release()
}
