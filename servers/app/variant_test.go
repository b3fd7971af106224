package app

import (
	"strings"
	"testing"
)

func TestParseVariant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Variant
		wantErr string
	}{
		{in: "all-on", want: AllOn},
		{in: "all-off", want: AllOff()},
		{in: "pool=off", want: AllOn.With(Pool, false)},
		{in: "pool=on/conv=off/reuse=on", want: AllOn.With(Conv, false)},
		{in: "conv=off,reuse=off", want: AllOff().With(Pool, true)},
		{in: "pol=on", wantErr: `unknown switch "pol": want one of pool, conv, reuse`},
		{in: "pool=yes", wantErr: `a switch is on or off`},
		{in: "pool", wantErr: `is not key=value`},
		{in: "/", wantErr: `empty variant`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVariant(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseVariant(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseVariant(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestVariantsRoundTrip(t *testing.T) {
	t.Parallel()
	vs := Variants()
	if len(vs) != 8 || vs[0] != AllOn || vs[7] != AllOff() {
		t.Fatalf("Variants() = %v, want 8 from all-on to all-off", vs)
	}
	seen := map[Variant]bool{}
	for _, v := range vs {
		got, err := ParseVariant(v.String())
		if err != nil || got != v {
			t.Errorf("ParseVariant(%q) = %v, %v; want %v", v, got, err, v)
		}
		seen[v] = true
	}
	if len(seen) != 8 {
		t.Errorf("Variants() has duplicates: %v", vs)
	}
	if _, err := ParseVariants("all-on;bogus=on"); err == nil {
		t.Error("ParseVariants with a bad entry succeeded, want an error")
	}
}

func TestServeCountsAndStatus(t *testing.T) {
	t.Parallel()
	h := NewHandler(AllOn)
	tests := []struct {
		path, query string
		status      int
	}{
		{"/app/users", "ids=1,2&fields=name", 200},
		{"/app/users", "", 400},
		{"/app/other", "ids=1", 404},
		{"/app/users", "ids=1&fields=nope", 400},
	}
	for _, tt := range tests {
		ex := h.ServeString(tt.path, tt.query)
		if ex.Status != tt.status {
			t.Errorf("Serve(%s?%s) status = %d, want %d; body %s", tt.path, tt.query, ex.Status, tt.status, ex.Body)
		}
		h.Release(ex)
	}
	if got := h.Served(); got != uint64(len(tests)) {
		t.Errorf("Served() = %d, want %d", got, len(tests))
	}
}

// TestSwitchTable pins the table against the handler's constants and the
// cell names bench.txt files hold: order of Variants, rendering, na.
func TestSwitchTable(t *testing.T) {
	t.Parallel()
	for i, k := range map[int]string{Pool: "pool", Conv: "conv", Reuse: "reuse"} {
		if got := SwitchKeys()[i]; got != k {
			t.Errorf("switch %d is %q, want %q: the handler's constant points at the wrong row", i, got, k)
		}
	}
	var got []string
	for _, v := range Variants() {
		got = append(got, v.String())
	}
	want := "pool=on/conv=on/reuse=on pool=on/conv=on/reuse=off pool=on/conv=off/reuse=on pool=on/conv=off/reuse=off " +
		"pool=off/conv=on/reuse=on pool=off/conv=on/reuse=off pool=off/conv=off/reuse=on pool=off/conv=off/reuse=off"
	if strings.Join(got, " ") != want {
		t.Errorf("Variants() = %v, want %s", got, want)
	}
	got = got[:0]
	for _, v := range OneOff() {
		got = append(got, v.String())
	}
	want = "pool=on/conv=on/reuse=on pool=off/conv=on/reuse=on pool=on/conv=off/reuse=on pool=on/conv=on/reuse=off pool=off/conv=off/reuse=off"
	if strings.Join(got, " ") != want {
		t.Errorf("OneOff() = %v, want %s", got, want)
	}
	if NA() != "pool=na/conv=na/reuse=na" {
		t.Errorf("NA() = %q", NA())
	}
}
