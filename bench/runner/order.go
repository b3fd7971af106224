package runner

import "github.com/poolbench/poolbench/bench/cell"

// roundOrder is the order the cells of round run (1-based) run in: the
// cells that differ only by server model run back to back (the CPUs' speed
// drifts over a round), the first model turning every round.
func roundOrder(cells []Cell, run int) []Cell {
	return cell.RoundOrder(cells, withoutModel, run)
}

// withoutModel is the cell's name with its model left out.
func withoutModel(c Cell) string { return c.Key().Without("model") }
