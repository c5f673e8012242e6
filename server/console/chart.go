package console

import (
	"fmt"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// barChart is a horizontal grouped bar chart drawn as inline SVG on the
// server: no script, no chart library, readable without JavaScript and
// allowed by a CSP without inline script (SVG presentation attributes are
// not styles).
type barChart struct {
	Width, Height int
	Series        []chartSeries
	Groups        []chartGroup
	// Max is the value the widest bar stands for.
	Max int
}

type chartSeries struct {
	Title   string
	Class   string // CSS class of its bars and legend swatch
	LegendX int
}

type chartGroup struct {
	Label string
	Link  string
	Y     int
	Bars  []chartBar
}

type chartBar struct {
	Y, Width, Value int
	Class, Title    string
	TextX           int
}

// Layout of the chart, in SVG user units (the SVG scales to its box).
const (
	chartWidth    = 640
	chartLabelW   = 150
	chartBarH     = 14
	chartGroupGap = 12
	chartTop      = 28
)

// rollupChart charts, per child area, the two shortfalls people look for
// first: overdue visits and members short of residency days. Nil when
// there are no children.
func rollupChart(children []*reports.Node, period string) *barChart {
	if len(children) == 0 {
		return nil
	}
	kinds := []struct {
		kind  rules.Kind
		class string
	}{{rules.KindVisitOverdue, "bar-overdue"}, {rules.KindResidencyShort, "bar-residency"}}
	ch := &barChart{Width: chartWidth, Max: 1}
	for i, k := range kinds {
		ch.Series = append(ch.Series, chartSeries{Title: k.kind.Title(), Class: k.class, LegendX: chartLabelW + i*150})
	}
	for _, n := range children {
		for _, k := range kinds {
			ch.Max = max(ch.Max, n.Counts[k.kind])
		}
	}
	plot := chartWidth - chartLabelW - 40
	y := chartTop
	for _, n := range children {
		label := n.Name
		if label == "" {
			label = n.Code
		}
		g := chartGroup{Label: label, Link: fmt.Sprintf("/?area=%s&period=%s", n.Code, period), Y: y + len(kinds)*chartBarH/2 + 4}
		for _, k := range kinds {
			v := n.Counts[k.kind]
			w := v * plot / ch.Max
			if v > 0 && w < 2 {
				w = 2
			}
			g.Bars = append(g.Bars, chartBar{Y: y, Width: w, Value: v, Class: k.class,
				Title: fmt.Sprintf("%s %s：%d", label, k.kind.Title(), v), TextX: chartLabelW + w + 4})
			y += chartBarH
		}
		ch.Groups = append(ch.Groups, g)
		y += chartGroupGap
	}
	ch.Height = y
	return ch
}
