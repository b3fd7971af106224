package profiles

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// fake builds an allocation profile: each stack (leaf first) allocates n objects.
func fake(stacks map[string]int64) *profile.Profile {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: AllocObjects, Unit: "count"}, {Type: "alloc_space", Unit: "bytes"}},
		PeriodType: &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:     1,
	}
	funcs := map[string]*profile.Function{}
	locs := map[string]*profile.Location{}
	for stack, n := range stacks {
		var ls []*profile.Location
		for _, name := range strings.Split(stack, ";") {
			if funcs[name] == nil {
				funcs[name] = &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				p.Function = append(p.Function, funcs[name])
				locs[name] = &profile.Location{ID: uint64(len(locs) + 1), Line: []profile.Line{{Function: funcs[name]}}}
				p.Location = append(p.Location, locs[name])
			}
			ls = append(ls, locs[name])
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: ls, Value: []int64{n, n * 16}})
	}
	return p
}

func TestFuncsChargesFirstNonRuntimeFrame(t *testing.T) {
	t.Parallel()
	p := fake(map[string]int64{
		"runtime.growslice;app.split;app.Serve":                                  30,
		"app.newExchange;app.Serve":                                              10,
		"runtime.mallocgc;runtime.newobject;net/http.readRequest;net/http.serve": 5,
	})
	fs, err := Funcs(p, AllocObjects)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Func{}
	for _, f := range fs {
		got[f.Name] = f
	}
	want := map[string]Func{
		"app.split":            {"app.split", 30, 30},
		"app.Serve":            {"app.Serve", 0, 40},
		"app.newExchange":      {"app.newExchange", 10, 10},
		"runtime.growslice":    {"runtime.growslice", 0, 30},
		"net/http.readRequest": {"net/http.readRequest", 5, 5},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %+v, want %+v", name, got[name], w)
		}
	}
	if fs[0].Name != "app.split" {
		t.Errorf("first function %s, want app.split (largest flat)", fs[0].Name)
	}
	if total, _ := Total(p, AllocObjects); total != 45 {
		t.Errorf("Total = %d, want 45", total)
	}
}

func TestDeltaAndDiff(t *testing.T) {
	t.Parallel()
	start := fake(map[string]int64{"app.split;app.Serve": 100, "app.warmup": 7})
	end := fake(map[string]int64{"app.split;app.Serve": 400, "app.warmup": 7, "app.newExchange;app.Serve": 50})
	d, err := Delta(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if total, _ := Total(d, AllocObjects); total != 350 {
		t.Fatalf("Delta total = %d, want 350 (300 split + 50 newExchange; warmup unchanged)", total)
	}
	on := fake(map[string]int64{"app.split;app.Serve": 10})
	ch, err := Diff(d, on, 100, 100, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2 || ch[0].Name != "app.split" || ch[0].Drop() != 2.9 || ch[1].Name != "app.newExchange" || ch[1].Drop() != 0.5 {
		t.Fatalf("Diff = %+v, want app.split 3→0.1 then app.newExchange 0.5→0", ch)
	}
}

func TestDropControlPlane(t *testing.T) {
	t.Parallel()
	p := fake(map[string]int64{
		"app.split;app.Serve": 10,
		"compress/flate.NewWriter;runtime/pprof.(*profileBuilder).build;net/http/pprof.handler.ServeHTTP": 99,
		"encoding/json.Marshal;github.com/poolbench/poolbench/servers/control.Handler.func1":              7,
	})
	DropControlPlane(p)
	if total, _ := Total(p, AllocObjects); total != 10 {
		t.Fatalf("after DropControlPlane total = %d, want 10", total)
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pb.gz")
	corrupt := filepath.Join(dir, "corrupt.pb.gz")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(corrupt, []byte("\x1f\x8b not really gzip"), 0o644)
	tests := []struct{ path, want string }{
		{empty, "is empty"},
		{corrupt, "is not a valid pprof profile"},
		{filepath.Join(dir, "missing.pb.gz"), "no such file"},
	}
	for _, tt := range tests {
		_, err := Load(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%s) error = %v, want one naming the file and saying %q", tt.path, err, tt.want)
		}
	}
}

func TestReadCellsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := ReadCells(dir); err == nil || !strings.Contains(err.Error(), "no profiled cells") {
		t.Errorf("ReadCells(empty dir) = %v, want 'no profiled cells'", err)
	}
	cell := filepath.Join(dir, "model=fasthttp", "pool=on")
	os.MkdirAll(cell, 0o755)
	os.WriteFile(filepath.Join(cell, MetaFile), []byte(`{"cell":"model=fasthttp/pool=on","requests":10}`), 0o644)
	os.WriteFile(filepath.Join(cell, "allocs.pb.gz"), []byte("garbage"), 0o644)
	_, err := ReadCells(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(cell, "allocs.pb.gz")) {
		t.Errorf("ReadCells with a corrupt profile = %v, want an error naming it", err)
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	fake(map[string]int64{"app.split;app.Serve": 3}).Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz", b)
		if err != nil {
			if !strings.Contains(err.Error(), "profile fuzz") {
				t.Fatalf("error %q does not name the input", err)
			}
			return
		}
		if _, err := Funcs(p, AllocObjects); err != nil && !strings.Contains(err.Error(), "no alloc_objects") {
			t.Fatalf("Funcs on a parsed profile: %v", err)
		}
	})
}
