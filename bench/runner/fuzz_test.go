package runner

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzFinishedCells reads arbitrary bytes as a bench.txt to resume: it
// never panics, and counts exactly the BenchmarkProc lines.
func FuzzFinishedCells(f *testing.F) {
	f.Add([]byte("commit: abc\n\nlayer: process\n\nBenchmarkProc/model=fasthttp/client=driver\t10\t1 ns/op\nBenchmarkProc/model=fasthttp/client=driver\t10\t1 ns/op\n"))
	f.Add([]byte("BenchmarkServer/x 1 2 ns/op\nBenchmarkProc/\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		done := FinishedCells(b)
		total := 0
		for name, n := range done {
			if !strings.HasPrefix(name, "Proc/") || n < 1 {
				t.Fatalf("cell %q counted %d times", name, n)
			}
			total += n
		}
		want := 0
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.HasPrefix(bytes.TrimRight(l, "\r"), []byte("BenchmarkProc/")) && len(l) < 1<<20 {
				want++
			}
		}
		if total > want {
			t.Fatalf("counted %d finished cells in %d BenchmarkProc lines", total, want)
		}
	})
}

// FuzzMatrixSpec expands arbitrary axis values: a spec either fails with
// an error or yields cells whose names follow the fixed keys (duplicates in
// lists are refused by run, not here).
func FuzzMatrixSpec(f *testing.F) {
	d := DefaultMatrix()
	f.Add(d.Models, d.Loads, d.Routes, d.Variants)
	f.Add("fasthttp", "keepalive,idle", "all", "all")
	f.Add("nginx", "client", "plaintext", "pool=off")
	f.Fuzz(func(t *testing.T, models, loads, routes, variants string) {
		s := DefaultMatrix()
		s.Models, s.Loads, s.Routes, s.Variants = models, loads, routes, variants
		cells, err := s.Cells()
		if err != nil {
			// One line, unless it echoes a newline from the input (the
			// command prints usage errors escaped, on one line).
			if strings.Contains(err.Error(), "\n") && !strings.Contains(models+loads+routes+variants, "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if len(cells) > 100_000 {
			t.Fatalf("%d cells", len(cells))
		}
		for _, c := range cells {
			if parts := strings.Split(c.Path(), "/"); len(parts) != len(Keys()) {
				t.Fatalf("cell %s has %d parts, want %d", c.Name(), len(parts), len(Keys()))
			}
		}
	})
}
