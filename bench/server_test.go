package bench

import (
	"testing"
)

// BenchmarkServer runs every cell of the matrix chosen by the -poolbench.*
// flags. One op is one request: ns/op is wall time per request, req/s the
// throughput, allocs/op and B/op those of server and client together (the
// client is allocation-free on keep-alive connections; short-lived cells
// include the dial).
func BenchmarkServer(b *testing.B) {
	for _, c := range matrix.Cells() {
		b.Run(c.Name(), func(b *testing.B) { RunCell(b, c) })
	}
}
