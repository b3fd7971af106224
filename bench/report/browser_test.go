package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestReportInChromium opens the fixture's report.html from disk in headless
// Chromium, fails on any console error or exception, checks that every
// chart holds data, and takes a screenshot (kept where POOLBENCH_SCREENSHOT
// points, if set).
func TestReportInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found: install Debian's chromium package (apt-get install chromium); .ci/run does")
	}
	dir := t.TempDir()
	run, err := Read(fixture)
	if err != nil {
		t.Fatal(err)
	}
	rep := Build(run)
	if len(rep.Missing) > 0 {
		t.Errorf("the fixture report misses parts: %v", rep.Missing)
	}
	if err := rep.Write(dir); err != nil { // the page and charts go to a temporary folder
		t.Fatal(err)
	}
	page, _ := filepath.Abs(filepath.Join(dir, "report.html"))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	type chart struct {
		ID     string `json:"id"`
		Points string `json:"points"`
		Marks  int    `json:"marks"`
		Width  int    `json:"width"`
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chart](`[...document.querySelectorAll("figure.chart")].map(f => ({
			id: f.id, points: f.dataset.points,
			marks: f.querySelectorAll("svg path, svg circle, svg rect").length,
			width: Math.round(f.querySelector("svg").getBoundingClientRect().width)}))`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	sections, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("section")].map(s => s.id)`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium screenshot: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged: %s", strings.Join(problems, "; "))
	}
	if len(charts) < 6 {
		t.Errorf("%d charts on the page, want at least 6: %+v", len(charts), charts)
	}
	for _, c := range charts {
		if c.Points == "" || c.Points == "0" || c.Marks < 5 || c.Width < 200 {
			t.Errorf("chart %s: %s points, %d marks, %dpx wide: want data drawn", c.ID, c.Points, c.Marks, c.Width)
		}
	}
	var want []string
	for _, s := range rep.Sections {
		want = append(want, s.ID)
	}
	if strings.Join(sections, ",") != strings.Join(want, ",") {
		t.Errorf("sections on the page %v, want the report's %v", sections, want)
	}
	for _, id := range []string{"throughput", "bursty", "allocs", "idle", "clients", "scenarios"} {
		if !slices.Contains(sections, id) {
			t.Errorf("section %s is not on the page (%v)", id, sections)
		}
	}
	if len(shot) < 10000 {
		t.Errorf("screenshot of %d bytes", len(shot))
	}
	if p := os.Getenv("POOLBENCH_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}
