package gate

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders the verdict with the benchstat table, for
// $GITHUB_STEP_SUMMARY and gate.md.
// samples says how they were taken, e.g. "8 interleaved samples per side".
func (v *Verdict) Markdown(base, head, table, samples string, took time.Duration) string {
	var b strings.Builder
	b.WriteString("## poolbench gate\n\n")
	fmt.Fprintf(&b, "base: %s · head: %s · %s · %v\n\n", base, head, samples, took.Round(time.Second))
	switch v.ExitCode() {
	case ExitOK:
		b.WriteString("**No regression.**\n")
	case ExitCannot:
		fmt.Fprintf(&b, "**Could not compare:** %v\n", v.Cannot)
	default:
		b.WriteString("**Regression.**\n\n| benchmark | unit | base | head | delta | p |\n|---|---|---:|---:|---:|---:|\n")
		for _, f := range v.Regressions() {
			d := fmt.Sprintf("%+.1f%%", 100*f.Delta)
			if f.Base == 0 {
				d = "0 → non-zero"
			} else if f.Pairs > 0 {
				d += fmt.Sprintf(" [%+.1f%%, %+.1f%%]", 100*f.Lo, 100*f.Hi)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %.4g | %.4g | %s | %.3f |\n", f.Benchmark, f.Unit, f.Base, f.Head, d, f.P)
		}
	}
	b.WriteString("\n<details><summary>benchstat base.txt head.txt</summary>\n\n```\n")
	b.WriteString(strings.TrimSpace(table))
	b.WriteString("\n```\n</details>\n")
	return b.String()
}
