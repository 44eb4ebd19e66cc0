package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

var targetColor = map[string]string{"keyless": "#2b6cb0", "floor": "#a0aec0", "moto": "#dd6b20"}

// WriteSVG draws the results as a horizontal bar chart of requests per
// second, one bar per scenario and target, in plain SVG.
func (rep *Report) WriteSVG(w io.Writer) error {
	const (
		labelW = 720
		barW   = 420
		rowH   = 26
		top    = 64
	)
	var rows []Result
	maxV := 0.0
	for _, r := range rep.Results {
		if r.Requests == 0 {
			continue
		}
		rows = append(rows, r)
		maxV = math.Max(maxV, r.ReqPerSec)
	}
	if maxV == 0 {
		maxV = 1
	}
	width, height := labelW+barW+120, top+rowH*len(rows)+40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">keyless bench: requests per second (concurrency %d, %gs per scenario)</text>`+"\n",
		rep.Concurrency, rep.DurationSec)
	fmt.Fprintf(&b, `<text x="10" y="42" fill="#4a5568">%s · %s</text>`+"\n", html.EscapeString(rep.Machine), rep.GoVersion)
	lx := 10
	for _, t := range []string{"keyless", "floor", "moto"} {
		fmt.Fprintf(&b, `<rect x="%d" y="48" width="12" height="12" fill="%s"/><text x="%d" y="58">%s</text>`+"\n", labelW+lx, targetColor[t], labelW+lx+16, t)
		lx += 90
	}
	for i, r := range rows {
		y := top + i*rowH
		bw := int(math.Round(r.ReqPerSec / maxV * barW))
		if bw < 1 {
			bw = 1
		}
		color := targetColor[r.Target]
		if color == "" {
			color = "#718096"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s — %s</text>`+"\n", labelW-8, y+16, html.EscapeString(r.Scenario), html.EscapeString(r.Target))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", labelW, y+3, bw, rowH-6, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.0f/s · p99 %.1f ms</text>`+"\n", labelW+bw+6, y+16, r.ReqPerSec, r.P99ms)
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" fill="#4a5568">cold start to healthy: %.0f ms median; load generator shares the machine</text>`+"\n",
		height-12, rep.ColdStartMedianMs)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
