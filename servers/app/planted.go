package app

// PlantedWork, when positive, makes Serve run Spin(PlantedWork) on every app
// request: a slowdown of fixed work that `poolbench calibrate` plants in the
// head side of a gate run to measure what the gate detects. Being work, not
// wall time, it costs the same share of a request on a fast or slow, busy or
// idle CPU. It is 0 (off) unless a benchmark binary's
// -poolbench.planted-work sets it, and must be set before any request is
// served.
var PlantedWork int

// spinSeed is only read: Spin's result is compared with it so that the
// compiler cannot drop the loop.
var spinSeed uint64 = 1

// spinOut receives Spin's result in the (never seen) case that it is 0.
var spinOut uint64

// Spin runs n steps of a 64-bit linear congruential generator, each step
// depending on the one before: CPU work of a fixed size (a multiply and an
// add per step) whose time follows the CPU's speed as the handler's does.
// It returns 0 in a way the compiler cannot see, so a caller that makes
// its next work depend on the result cannot have that work overlap the
// loop (out-of-order execution would otherwise hide part of a short loop).
//
//go:noinline
func Spin(n int) int {
	x := spinSeed
	for range n {
		x = x*6364136223846793005 + 1442695040888963407
	}
	if x == 0 {
		spinOut = x
	}
	return int(x>>63) & int(spinSeed>>1) // spinSeed is 1: always 0
}

// plantedSpin runs the planted slowdown, if any, and returns path, which
// Serve goes on with: the request's parsing waits for the loop.
func plantedSpin(path []byte) []byte {
	if PlantedWork > 0 {
		return path[:len(path)-Spin(PlantedWork)]
	}
	return path
}
