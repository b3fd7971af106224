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
		{in: "all-off", want: AllOff},
		{in: "pool=off", want: Variant{Pool: false, Conv: true, Reuse: true}},
		{in: "pool=on/conv=off/reuse=on", want: Variant{Pool: true, Conv: false, Reuse: true}},
		{in: "conv=off,reuse=off", want: Variant{Pool: true}},
		{in: "pol=on", wantErr: `unknown switch "pol"`},
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
	if len(vs) != 8 || vs[0] != AllOn || vs[7] != AllOff {
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
