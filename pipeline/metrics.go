package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/legateproxy/legate/translators"
)

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	translation *prometheus.HistogramVec
	objects     *prometheus.GaugeVec
	invalid     *prometheus.GaugeVec
	published   prometheus.Counter
	failures    prometheus.Counter

	// statuses are the statuses invalid was last counted from: the
	// endpoint fast path hands on the last run's, which need no recount.
	statuses []*translators.ObjectStatus
}

// NewMetrics registers the pipeline's metrics with reg (nil: not exported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		translation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "legate_translation_duration_seconds",
			Help:    "Time to translate one snapshot of inputs into validated Envoy resources.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"result"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "legate_input_objects",
			Help: "Objects in the last snapshot of inputs, by kind.",
		}, []string{"kind"}),
		invalid: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "legate_invalid_objects",
			Help: "Objects with at least one problem in the last translation, by kind and severity.",
		}, []string{"kind", "severity"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "legate_snapshots_published_total",
			Help: "Snapshots that changed what is served.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "legate_snapshot_failures_total",
			Help: "Snapshots that could not be built or validated (the last good one kept serving).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.translation, m.objects, m.invalid, m.published, m.failures)
	}
	return m
}

func (m *Metrics) observe(in *translators.Inputs, out *Output, err error) {
	if m == nil {
		return
	}
	for kind, n := range in.Count() {
		m.objects.WithLabelValues(kind).Set(float64(n))
	}
	if out != nil && !sameSlice(out.Statuses, m.statuses) {
		m.statuses = out.Statuses
		counts := map[[2]string]int{}
		for _, st := range out.Statuses {
			for _, sev := range []translators.Severity{translators.SeverityError, translators.SeverityWarning} {
				for _, p := range st.Problems {
					if p.Severity == sev {
						counts[[2]string{st.Object.Kind, string(sev)}]++
						break
					}
				}
			}
		}
		m.invalid.Reset()
		for k, n := range counts {
			m.invalid.WithLabelValues(k[0], k[1]).Set(float64(n))
		}
	}
	result := "ok"
	if err != nil {
		result = "error"
		m.failures.Inc()
	}
	if out != nil {
		m.translation.WithLabelValues(result).Observe(out.Duration.Seconds())
	}
}

// sameSlice reports whether a and b are the same list, not merely equal
// ones.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
