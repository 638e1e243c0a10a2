package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/legateproxy/legate/bench/workload"
)

// The plot: one panel per measure (translate wall time, translate peak
// RSS, route edit p99, serve RSS), each against N on log-log axes, one
// line per shape. It is drawn with the standard library alone (a few
// primitives and a 5x7 pixel font below), to keep plotting libraries out
// of Legate's dependencies.

// panel is one measure across the results.
type panel struct {
	title string
	unit  string
	value func(*result) float64 // NaN or <= 0: not measured
}

var panels = []panel{
	{"TRANSLATE WALL", "S", func(r *result) float64 { return r.translateWall.Seconds() }},
	{"TRANSLATE PEAK RSS", "MIB", func(r *result) float64 { return float64(r.translateRSS) / (1 << 20) }},
	{"ROUTE EDIT TO PUSH P99", "S", func(r *result) float64 { return percentile(r.route, 0.99).Seconds() }},
	{"SERVE RSS", "MIB", func(r *result) float64 { return float64(r.rss) / (1 << 20) }},
}

var shapeColors = map[workload.Shape]color.RGBA{
	workload.Ingress: {0xd6, 0x27, 0x28, 0xff},
	workload.Gateway: {0x1f, 0x77, 0xb4, 0xff},
	workload.Mapping: {0x2c, 0xa0, 0x2c, 0xff},
	workload.Mixed:   {0x94, 0x67, 0xbd, 0xff},
}

const (
	panelW, panelH = 420, 300
	marginL        = 64
	marginR        = 16
	marginT        = 28
	marginB        = 40
	legendH        = 24
)

// writePlot draws rs as a PNG into w.
func writePlot(w io.Writer, rs []*result) error {
	img := image.NewRGBA(image.Rect(0, 0, 2*panelW, 2*panelH+legendH))
	fill(img, img.Bounds(), color.RGBA{0xff, 0xff, 0xff, 0xff})
	var shapes []workload.Shape
	for _, r := range rs {
		if !slices.Contains(shapes, r.shape) {
			shapes = append(shapes, r.shape)
		}
	}
	for i, p := range panels {
		origin := image.Pt((i%2)*panelW, (i/2)*panelH)
		drawPanel(img, origin, p, rs, shapes)
	}
	// Legend: a swatch and the shape's name per shape.
	x := 10
	for _, s := range shapes {
		c := shapeColors[s]
		fill(img, image.Rect(x, 2*panelH+8, x+14, 2*panelH+16), c)
		x += 20
		x = text(img, x, 2*panelH+9, strings.ToUpper(string(s)), color.RGBA{0, 0, 0, 0xff}) + 16
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("encoding the plot: %w", err)
	}
	return nil
}

func drawPanel(img *image.RGBA, o image.Point, p panel, rs []*result, shapes []workload.Shape) {
	black := color.RGBA{0, 0, 0, 0xff}
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	plot := image.Rect(o.X+marginL, o.Y+marginT, o.X+panelW-marginR, o.Y+panelH-marginB)
	text(img, o.X+marginL, o.Y+8, p.title+" ("+p.unit+")", black)

	// Axis ranges: powers of ten around the data, in log space.
	nMin, nMax, vMin, vMax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		v := p.value(r)
		if !(v > 0) {
			continue
		}
		nMin, nMax = math.Min(nMin, float64(r.n)), math.Max(nMax, float64(r.n))
		vMin, vMax = math.Min(vMin, v), math.Max(vMax, v)
	}
	if math.IsInf(nMin, 0) {
		text(img, plot.Min.X+10, plot.Min.Y+10, "NOT MEASURED", black)
		return
	}
	x0, x1 := math.Floor(math.Log10(nMin)), math.Ceil(math.Log10(nMax))
	y0, y1 := math.Floor(math.Log10(vMin)), math.Ceil(math.Log10(vMax))
	if x1 == x0 {
		x1++
	}
	if y1 == y0 {
		y1++
	}
	px := func(n float64) int {
		return plot.Min.X + int(math.Round((math.Log10(n)-x0)/(x1-x0)*float64(plot.Dx())))
	}
	py := func(v float64) int {
		return plot.Max.Y - int(math.Round((math.Log10(v)-y0)/(y1-y0)*float64(plot.Dy())))
	}
	for e := x0; e <= x1; e++ {
		x := px(math.Pow(10, e))
		line(img, x, plot.Min.Y, x, plot.Max.Y, grey)
		text(img, x-10, plot.Max.Y+6, sizeName(int(math.Pow(10, e))), black)
	}
	for e := y0; e <= y1; e++ {
		y := py(math.Pow(10, e))
		line(img, plot.Min.X, y, plot.Max.X, y, grey)
		text(img, o.X+4, y-3, axisNumber(math.Pow(10, e)), black)
	}
	text(img, plot.Max.X-10, plot.Max.Y+20, "N", black)
	line(img, plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y, black)
	line(img, plot.Min.X, plot.Min.Y, plot.Min.X, plot.Max.Y, black)

	for _, s := range shapes {
		c := shapeColors[s]
		var pts []image.Point
		for _, r := range rs {
			if v := p.value(r); r.shape == s && v > 0 {
				pts = append(pts, image.Pt(px(float64(r.n)), py(v)))
			}
		}
		slices.SortFunc(pts, func(a, b image.Point) int { return a.X - b.X })
		for i, pt := range pts {
			fill(img, image.Rect(pt.X-3, pt.Y-3, pt.X+4, pt.Y+4), c)
			if i > 0 {
				thickLine(img, pts[i-1], pt, c)
			}
		}
	}
}

// axisNumber writes a power of ten briefly: 0.01, 0.1, 1, 10, 100, 1K.
func axisNumber(v float64) string {
	switch {
	case v >= 1000:
		return sizeName(int(v))
	case v >= 1:
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(fmt.Sprintf("%.3f", v), "0")
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws a one-pixel line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		if (image.Point{x0, y0}).In(img.Bounds()) {
			img.SetRGBA(x0, y0, c)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func thickLine(img *image.RGBA, a, b image.Point, c color.RGBA) {
	for d := -1; d <= 1; d++ {
		line(img, a.X, a.Y+d, b.X, b.Y+d, c)
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// text draws s in the 5x7 font at (x, y), the top left of the first
// character, and returns the x after it. Characters the font lacks are
// drawn as spaces.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) int {
	for _, r := range s {
		if g, ok := font[r]; ok {
			for row, bits := range g {
				for col := 0; col < 5; col++ {
					if bits&(1<<(4-col)) != 0 {
						img.SetRGBA(x+col, y+row, c)
					}
				}
			}
		}
		x += 6
	}
	return x
}

// font holds 5x7 glyphs, one byte per row, the low five bits left to right.
var font = map[rune][7]byte{
	'0': {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e},
	'1': {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e},
	'2': {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f},
	'3': {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e},
	'4': {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02},
	'5': {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e},
	'6': {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e},
	'7': {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8': {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e},
	'9': {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c},
	'A': {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},
	'B': {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e},
	'C': {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e},
	'D': {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c},
	'E': {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f},
	'F': {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10},
	'G': {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f},
	'H': {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},
	'I': {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},
	'J': {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c},
	'K': {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
	'L': {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f},
	'M': {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11},
	'N': {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O': {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},
	'P': {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10},
	'Q': {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d},
	'R': {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11},
	'S': {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e},
	'T': {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U': {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},
	'V': {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04},
	'W': {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a},
	'X': {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11},
	'Y': {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04},
	'Z': {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f},
	'k': {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},
	'.': {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c},
	'(': {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
	')': {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
	'/': {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},
	'-': {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00},
}
