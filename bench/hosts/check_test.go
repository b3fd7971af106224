package hosts

import (
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr string
		allow      bool
		wantErr    string // "" for accepted
	}{
		{"loopback v4", "127.0.0.1:8080", false, ""},
		{"loopback range", "127.3.2.1:80", false, ""},
		{"loopback v6", "[::1]:8080", false, ""},
		{"localhost", "localhost:0", false, ""},
		{"private refused", "10.1.2.3:8080", false, "want a loopback address"},
		{"public refused", "192.0.2.7:80", false, "want a loopback address"},
		{"name refused", "example.com:80", false, "want a loopback address"},
		{"every interface refused", ":8080", false, "want a loopback address"},
		{"unspecified refused", "0.0.0.0:8080", false, "want a loopback address"},
		{"unspecified v6 refused", "[::]:8080", false, "want a loopback address"},
		{"private allowed", "10.1.2.3:8080", true, ""},
		{"every interface allowed", ":8080", true, ""},
		{"no port", "127.0.0.1", false, "want host:port"},
		{"no port even allowed", "10.0.0.1", true, "want host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAddr("-addr", tt.addr, tt.allow)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckAddr(%q, allow=%v) = %v, want accepted", tt.addr, tt.allow, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckAddr(%q, allow=%v) = %v, want an error with %q", tt.addr, tt.allow, err, tt.wantErr)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "-addr ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming the flag", msg)
			}
		})
	}
}
