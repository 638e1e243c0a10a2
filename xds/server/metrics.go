package server

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	nacks        *prometheus.CounterVec
	connected    prometheus.Gauge
	streams      *prometheus.CounterVec
	snapshotInfo *prometheus.GaugeVec
	publishes    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	return &metrics{
		nacks: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "legate_xds_nacks_total",
			Help: "xDS responses rejected by a client (NACK), by resource type.",
		}, []string{"type_url"})),
		connected: register(reg, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "legate_xds_clients_connected",
			Help: "Open xDS streams (an ADS client holds one).",
		})),
		streams: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "legate_xds_streams_opened_total",
			Help: "xDS streams opened, by protocol (sotw or delta).",
		}, []string{"protocol"})),
		snapshotInfo: register(reg, log, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "legate_xds_snapshot_info",
			Help: "The version of the snapshot served to each node group (value always 1).",
		}, []string{"group", "version"})),
		publishes: register(reg, log, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "legate_xds_publishes_total",
			Help: "Snapshot publications by group and result (changed, unchanged, invalid).",
		}, []string{"group", "result"})),
	}
}

// register adds c to reg. A collector of the same description that is
// already registered (a second Server in one process, as in tests) is
// shared rather than failing.
func register[T prometheus.Collector](reg prometheus.Registerer, log *slog.Logger, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		log.Warn("registering an xDS server metric", "error", err)
	}
	return c
}

func (m *metrics) setSnapshotInfo(group, prev, version string) {
	if prev != "" && prev != version {
		m.snapshotInfo.DeleteLabelValues(group, prev)
	}
	m.snapshotInfo.WithLabelValues(group, version).Set(1)
}
