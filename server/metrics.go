package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own (no
// global state: two servers in one test process do not collide).
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	errors      *prometheus.CounterVec
	opsApplied  prometheus.Counter
	opsRejected *prometheus.CounterVec
	conflicts   prometheus.Counter
	logins      *prometheus.CounterVec
	pushSeconds prometheus.Histogram
	pullSeconds prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ruhu_http_requests_total",
			Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ruhu_http_request_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ruhu_errors_total",
			Help: "Error responses by stable code."}, []string{"code"}),
		opsApplied: prometheus.NewCounter(prometheus.CounterOpts{Name: "ruhu_ops_acked_total",
			Help: "Pushed ops acknowledged (applied now or before)."}),
		opsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ruhu_ops_rejected_total",
			Help: "Pushed ops refused, by code."}, []string{"code"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "ruhu_conflicts_touched_total",
			Help: "Conflicts opened or joined by pushed ops."}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ruhu_logins_total",
			Help: "Password logins by result."}, []string{"result"}),
		pushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ruhu_push_seconds",
			Help: "Time to apply one push batch.", Buckets: prometheus.DefBuckets}),
		pullSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ruhu_pull_seconds",
			Help: "Time to serve one pull page.", Buckets: prometheus.DefBuckets}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.errors, m.opsApplied, m.opsRejected, m.conflicts, m.logins,
		m.pushSeconds, m.pullSeconds, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRequest(c *fiber.Ctx, err error, d time.Duration) {
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" {
		route = r.Path
	}
	status := c.Response().StatusCode()
	if err != nil {
		if fe, ok := err.(*fiber.Error); ok {
			status = fe.Code
		}
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
