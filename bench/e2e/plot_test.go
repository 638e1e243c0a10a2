package main

import (
	"bytes"
	"image/png"
	"testing"
	"time"

	"github.com/legateproxy/legate/bench/workload"
)

// The plot is a PNG of four panels with one line per shape: each shape's
// colour appears, in every panel that has data for it.
func TestPlotDrawsEveryShapeInEveryPanel(t *testing.T) {
	var rs []*result
	for i, n := range []int{1000, 10000, 50000} {
		for k, s := range []workload.Shape{workload.Gateway, workload.Mixed} {
			// Mixed is three times gateway, so their lines do not overlap.
			f := int64(1 + 2*k)
			rs = append(rs, &result{
				shape: s, n: n,
				translateWall: time.Duration(f*int64(n)) * time.Millisecond / 10,
				translateRSS:  f * int64(n) * 20 << 10,
				route:         []time.Duration{time.Duration(f*int64(i+1)) * 50 * time.Millisecond},
				rss:           f * int64(n) * 10 << 10,
			})
		}
	}
	var buf bytes.Buffer
	if err := writePlot(&buf, rs); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 2*panelW || b.Dy() != 2*panelH+legendH {
		t.Fatalf("size %v", b)
	}
	for p := range panels {
		x0, y0 := (p%2)*panelW, (p/2)*panelH
		for _, s := range []workload.Shape{workload.Gateway, workload.Mixed} {
			want := shapeColors[s]
			found := 0
			for y := y0; y < y0+panelH; y++ {
				for x := x0; x < x0+panelW; x++ {
					r, g, b, _ := img.At(x, y).RGBA()
					if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
						found++
					}
				}
			}
			// Three points of 7x7 and two line segments: far more than 100
			// pixels; a panel that missed the shape has none.
			if found < 100 {
				t.Errorf("panel %q: %d pixels of %s", panels[p].title, found, s)
			}
		}
	}
}

// Every character the plot writes is in the font.
func TestFontCoversThePlotsText(t *testing.T) {
	var all string
	for _, p := range panels {
		all += p.title + " (" + p.unit + ")"
	}
	for _, s := range []workload.Shape{workload.Ingress, workload.Gateway, workload.Mapping, workload.Mixed} {
		all += string(s)
	}
	all += "NOT MEASURED 0.001 0.01 0.1 1 10 100 1k 10k 100k"
	for _, r := range all {
		if _, ok := font[r]; !ok && r != ' ' {
			if _, upper := font[r-'a'+'A']; !(r >= 'a' && r <= 'z' && upper) {
				t.Errorf("the font has no %q", r)
			}
		}
	}
}
