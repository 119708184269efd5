package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// appendJSON appends r to the file at path as one JSON line.
func appendJSON(path string, r result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readResults reads the JSON lines appendJSON wrote.
func readResults(r io.Reader) ([]result, error) {
	var rs []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var res result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rs = append(rs, res)
	}
	return rs, sc.Err()
}

// printReport prints the side-by-side table of the results in path.
func printReport(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rs, err := readResults(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	writeReport(w, rs)
	return nil
}

// figure is one row of the side-by-side table: a value of each run.
type figure struct {
	name  string
	value func(result) float64
	unit  func(float64) string
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtKiB(v float64) string { return fmtNum(v/1024) + " KiB" }
func fmtMs(v float64) string  { return fmtDur(time.Duration(v)) }

// figuresOf returns the rows a scenario's runs are reported with.
func figuresOf(r result) []figure {
	ns := func(d func(result) time.Duration) func(result) float64 {
		return func(r result) float64 { return float64(d(r)) }
	}
	mem := []figure{
		{"heap+stack per idle connection", func(r result) float64 { return r.HeapPerConn }, fmtKiB},
		{"RSS per idle connection", func(r result) float64 { return r.RSSPerConn }, fmtKiB},
	}
	switch {
	case r.Idle:
		return mem
	case r.N == 0:
		return []figure{
			{"publishes accepted/s", func(r result) float64 { return r.Achieved }, fmtNum},
			{"acknowledgement p50", ns(func(r result) time.Duration { return r.AckP50 }), fmtMs},
			{"acknowledgement p99", ns(func(r result) time.Duration { return r.AckP99 }), fmtMs},
		}
	}
	return []figure{
		{"deliveries/s", func(r result) float64 { return r.deliveriesPerSec() }, fmtNum},
		{"publishes accepted/s", func(r result) float64 { return r.Achieved }, fmtNum},
		{"server CPU-s per 1M deliveries", func(r result) float64 { return r.cpuPerMillion() }, fmtNum},
		{"events per WebSocket message", func(r result) float64 { return float64(r.Delivered) / float64(max(r.Frames, 1)) }, fmtNum},
		{"delivery p50", ns(func(r result) time.Duration { return r.P50 }), fmtMs},
		{"delivery p99", ns(func(r result) time.Duration { return r.P99 }), fmtMs},
		{"acknowledgement p50", ns(func(r result) time.Duration { return r.AckP50 }), fmtMs},
		{"lost deliveries (missing + gaps)", func(r result) float64 { return float64(r.lost()) }, func(v float64) string { return fmt.Sprintf("%.0f", v) }},
		{"load generator CPU-s (its one core) / run window s", func(r result) float64 { return r.ClientCPU / max(r.Window.Seconds(), 1e-9) }, fmtNum},
		{"other processes' CPU-s during the run", func(r result) float64 { return r.OtherCPU }, fmtNum},
	}
}

// writeReport prints one table: per scenario (label, in order of first
// appearance), per figure, the range over the runs of each target and the
// ratio of the medians.
func writeReport(w io.Writer, rs []result) {
	var labels []string
	byLabel := map[string]map[string][]result{}
	for _, r := range rs {
		if byLabel[r.Label] == nil {
			labels = append(labels, r.Label)
			byLabel[r.Label] = map[string][]result{}
		}
		byLabel[r.Label][r.Target] = append(byLabel[r.Label][r.Target], r)
	}
	fmt.Fprintln(w, "| scenario | figure | Centrifugo | ssot-ws | ssot-ws ÷ Centrifugo (medians) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|")
	for _, l := range labels {
		c, s := byLabel[l]["centrifugo"], byLabel[l]["ssotws"]
		first := append(slices.Clone(s), c...)[0]
		for _, f := range figuresOf(first) {
			cv, sv := values(c, f.value), values(s, f.value)
			ratio := "—"
			if len(cv) > 0 && len(sv) > 0 && median(cv) != 0 {
				ratio = fmt.Sprintf("%.2f", median(sv)/median(cv))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", l, f.name, span(cv, f.unit), span(sv, f.unit), ratio)
		}
	}
}

func values(rs []result, f func(result) float64) []float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v
}

// span formats the range of sorted values: "lo–hi (n runs)", or one value.
func span(v []float64, unit func(float64) string) string {
	switch {
	case len(v) == 0:
		return "—"
	case unit(v[0]) == unit(v[len(v)-1]):
		return unit(v[0])
	}
	return unit(v[0]) + "–" + unit(v[len(v)-1])
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
