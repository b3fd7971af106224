package bench

import (
	"testing"
)

// BenchmarkServer runs every cell of the matrix chosen by the -poolbench.*
// flags. One op is one request: ns/op is wall time per request, cpu-ns/op
// the CPU time of the whole process (server and client) per request, which
// unlike ns/op leaves out moments another process held the CPU, req/s the
// throughput, allocs/op and B/op those of server and client together (the
// client is allocation-free on keep-alive connections; short-lived cells
// include the dial).
//
// Each -count round runs the cells in RoundOrder: a cell's models back to
// back, the first model turning every round.
func BenchmarkServer(b *testing.B) {
	serverRounds++
	for _, c := range matrix.RoundOrder(serverRounds) {
		b.Run(c.Name(), func(b *testing.B) { RunCell(b, c) })
	}
}

// serverRounds counts BenchmarkServer's calls: go test -count calls it once
// per round.
var serverRounds int
