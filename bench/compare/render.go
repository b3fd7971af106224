package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchunit"
)

// Legend explains the symbols of the tables.
const Legend = "median ± half the 95% interval as a share of it (± ∞: too few runs for an interval); " +
	"vs A: the change of the medians, ~ where it is not significant (p ≥ α), with the Mann-Whitney U test's p and the runs per side."

// block is one section of the output, rendered as text or markdown.
type block struct {
	title string
	lines []string   // paragraphs before the table
	head  []string   // table header, nil for no table
	rows  [][]string // table rows
}

func (c *Comparison) blocks() []block {
	var out []block
	side := func(r *Run) string {
		return fmt.Sprintf("%s (%d file%s)", strings.Join(r.Paths, ", "), len(r.Paths), map[bool]string{true: "", false: "s"}[len(r.Paths) == 1])
	}
	intro := block{title: "poolbench compare", lines: []string{"A: " + side(c.A), "B: " + side(c.B)}}
	for _, e := range c.Identity {
		intro.lines = append(intro.lines, fmt.Sprintf("%s: %s → %s", e.Key, e.A, e.B))
	}
	out = append(out, intro)

	m := block{title: "Machine"}
	if d := c.MachineDiffers(); len(d) == 0 {
		m.lines = append(m.lines, "Same machine and toolchain on both sides.")
	} else {
		keys := make([]string, len(d))
		for i, e := range d {
			keys[i] = e.Key
		}
		m.lines = append(m.lines, fmt.Sprintf("DIFFERENT: %s. Absolute numbers are not comparable across machines; compare the ratios below.", strings.Join(keys, ", ")))
	}
	m.head = []string{"", "key", "A", "B"}
	for _, rows := range [][]EnvRow{c.Machine, c.Setup} {
		for _, e := range rows {
			mark := ""
			if e.Differs() {
				mark = "≠"
			}
			m.rows = append(m.rows, []string{mark, e.Key, e.A, e.B})
		}
	}
	out = append(out, m)

	r := block{title: "Headline ratios"}
	if len(c.Ratios) == 0 {
		r.lines = append(r.lines, "No cell has a baseline model and another model on both sides.")
	} else {
		n := c.Count()
		r.lines = append(r.lines, fmt.Sprintf("%d ratios: %d grew, %d shrank, %d unchanged, %d unclear (too few runs to tell). "+
			"Each ratio pairs the i-th runs of two models' cells within a file: median [95%% interval] (± ∞ under 6 pairs: then the pairs' range).", len(c.Ratios), n["grew"], n["shrank"], n["unchanged"], n["unclear"]))
		r.head = []string{"cell", "ratio", "A", "B", "verdict"}
		for _, x := range c.Ratios {
			verdict := x.Verdict()
			switch verdict {
			case "grew", "shrank":
				verdict = fmt.Sprintf("%s %+.1f%% (%s)", verdict, 100*(x.B.Center/x.A.Center-1), x.Cmp)
			default:
				verdict = fmt.Sprintf("%s (%s)", verdict, x.Cmp)
			}
			r.rows = append(r.rows, []string{x.Group, fmt.Sprintf("%s/%s %s", x.Other, x.Base, x.Unit), ratioString(x.A, x.PairsA), ratioString(x.B, x.PairsB), verdict})
		}
	}
	out = append(out, r)

	if len(c.OnlyA)+len(c.OnlyB) > 0 {
		o := block{title: "Cells on one side only"}
		for _, s := range []struct {
			label string
			cells []string
		}{{"A", c.OnlyA}, {"B", c.OnlyB}} {
			if len(s.cells) == 0 {
				continue
			}
			ex := s.cells[:min(3, len(s.cells))]
			o.lines = append(o.lines, fmt.Sprintf("%d only in %s, e.g. %s", len(s.cells), s.label, strings.Join(ex, ", ")))
		}
		out = append(out, o)
	}

	for i, t := range c.Tables {
		dir := map[int]string{1: " (higher is better)", -1: " (lower is better)"}[t.Better]
		b := block{title: fmt.Sprintf("%s · %s%s", t.Base, t.Unit, dir), head: []string{"cell", "A", "B", "vs A"}}
		if i == 0 {
			b.lines = []string{Legend}
		}
		cls := benchunit.ClassOf(t.Unit)
		for _, row := range t.Rows {
			b.rows = append(b.rows, []string{row.Cell, summary(row.A, cls), summary(row.B, cls), fmt.Sprintf("%s (%s)", row.Delta(), row.Cmp)})
		}
		out = append(out, b)
	}
	return out
}

// summary formats a median with its interval as benchstat does.
func summary(s benchmath.Summary, cls benchunit.Class) string {
	v := benchunit.Scale(s.Center, cls)
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return v + " ± ∞"
	}
	return v + " ± " + s.PctRangeString()
}

// WriteText writes the comparison as aligned text tables.
func (c *Comparison) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, b := range c.blocks() {
		fmt.Fprintf(tw, "%s\n%s\n", b.title, strings.Repeat("=", len([]rune(b.title))))
		for _, l := range b.lines {
			fmt.Fprintln(tw, l)
		}
		if b.head != nil {
			fmt.Fprintln(tw, strings.Join(b.head, "\t")+"\t")
			for _, r := range b.rows {
				fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
			}
		}
		fmt.Fprintln(tw)
		// Each block aligns on its own.
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// WriteMarkdown writes the comparison as markdown: headings and pipe tables.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var sb strings.Builder
	for i, b := range c.blocks() {
		level := "##"
		if i == 0 {
			level = "#"
		}
		fmt.Fprintf(&sb, "%s %s\n\n", level, b.title)
		for _, l := range b.lines {
			fmt.Fprintf(&sb, "%s\n\n", mdEscape(l))
		}
		if b.head != nil {
			fmt.Fprintf(&sb, "| %s |\n|%s\n", strings.Join(b.head, " | "), strings.Repeat("---|", len(b.head)))
			for _, r := range b.rows {
				cells := make([]string, len(r))
				for j, x := range r {
					cells[j] = mdEscape(x)
				}
				fmt.Fprintf(&sb, "| %s |\n", strings.Join(cells, " | "))
			}
			sb.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`).Replace(s)
}
