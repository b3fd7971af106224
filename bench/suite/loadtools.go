package suite

// ProcDefaults are the `poolbench run` flags the suite passes before
// -proc-flags (which may override them): the driver and wrk side by side on
// the keep-alive cells, so the report can check one against the other
// (client=wrk cells are skipped with a line when wrk is not installed).
func ProcDefaults() []string {
	return []string{"-load-tool", "driver,wrk"}
}
