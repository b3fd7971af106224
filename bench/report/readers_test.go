package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runDir writes a run folder holding bench.txt (and scenarios.json if set).
func runDir(t testing.TB, bench, scenarios string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(bench), 0o644); err != nil {
		t.Fatal(err)
	}
	if scenarios != "" {
		if err := os.WriteFile(filepath.Join(dir, "scenarios.json"), []byte(scenarios), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReadRefusesJunk: a bench.txt that holds no result is not a run.
func TestReadRefusesJunk(t *testing.T) {
	t.Parallel()
	fixtureBench, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(fixtureBench), "\nBenchmark")
	tests := []struct{ name, bench, want string }{
		{"garbage", "\x00\x01 this is not\nbenchmark output at all\n", "no benchmark result lines"},
		{"header only", header, "no benchmark result lines"},
		{"empty", "", "no benchmark result lines"},
		{"malformed results", "BenchmarkServer/x=1\tnot-a-number\t1 ns/op\n", "1 malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(runDir(t, tt.bench, ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "not poolbench output") {
				t.Errorf("Read = %v, want an error saying %q and not poolbench output", err, tt.want)
			}
		})
	}
}

// TestPartialScenarios renders the readable scenarios of a cut
// scenarios.json and says what is missing.
func TestPartialScenarios(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(fixture, "scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	bench, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	cut := first + "\n" + string(b)[len(first)+1:len(first)+60] // the second scenario, cut
	run, err := Read(runDir(t, string(bench), cut))
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(run)
	md := rep.Markdown()
	if len(run.Scenarios) != 1 || !strings.Contains(md, "## Client pool failures") || !strings.Contains(md, run.Scenarios[0].Name) {
		t.Errorf("the readable scenario is not rendered (%d read):\n%s", len(run.Scenarios), md)
	}
	if !strings.Contains(md, "scenarios.json: only 1 scenario(s) readable") {
		t.Errorf("the report does not say scenarios.json was cut:\n%s", md)
	}

	run, err = Read(runDir(t, string(bench), `{"Name":"x","Verdict":""}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if md := Build(run).Markdown(); !strings.Contains(md, `scenario 1 ("x") has no verdict, rows`) {
		t.Errorf("a scenario without verdict and rows is not named as such:\n%s", md)
	}
}

// FuzzRead: the run reader never panics; what it accepts has cells.
func FuzzRead(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(fixture, "bench.txt"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := os.ReadFile(filepath.Join(fixture, "scenarios.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b[:2000]), string(s[:300]))
	f.Add("BenchmarkProc/model=a-2\t1\t1 ns/op\n", "{}")
	f.Fuzz(func(t *testing.T, bench, scenarios string) {
		run, err := Read(runDir(t, bench, scenarios))
		if err != nil {
			return
		}
		if len(run.Cells) == 0 {
			t.Fatalf("Read accepted a bench.txt without cells: %q", bench)
		}
		// Build is not a reader of outside input and draws charts (slow
		// under the fuzzer's instrumentation): the golden and section tests
		// cover it; here every cell Read accepted must have a name and samples.
		for _, c := range run.Cells {
			if c.Base == "" || len(c.Values) == 0 {
				t.Fatalf("Read accepted a cell without a name or samples: %+v", c)
			}
		}
	})
}
