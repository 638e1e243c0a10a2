package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/xds"
)

// Source emits Inputs snapshots until ctx is done: a provider.
type Source interface {
	Run(ctx context.Context, out chan<- *translators.Inputs) error
}

// Publisher serves Envoy resources: the xDS server.
type Publisher interface {
	Publish(group string, res *xds.Resources) (version string, changed bool, err error)
}

// Loop connects a Source, the Pipeline and a Publisher: every snapshot the
// source emits is translated and published. A snapshot that cannot be
// built or validated is reported and skipped, so the publisher keeps
// serving the last good resources.
type Loop struct {
	Pipeline  *Pipeline
	Source    Source
	Publisher Publisher
	// Group is the data-plane group published to.
	Group  string
	Logger *slog.Logger
	// OnStatus, if set, gets the statuses of every translated snapshot
	// (even one that failed to publish: its problems are real), after
	// the publish: the status writer's work then does not delay the
	// push, and a status never runs ahead of the configuration served.
	OnStatus func([]*translators.ObjectStatus)
	// Metrics, if set, are kept up to date.
	Metrics *Metrics
	// OnPublished, if set, is called after every successful Publish.
	OnPublished func(out *Output, version string, changed bool)
}

// Run runs until ctx is done (returning nil) or the source fails.
func (l *Loop) Run(ctx context.Context) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inputs := make(chan *translators.Inputs, 1)
	srcErr := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		err := l.Source.Run(ctx, inputs)
		if err != nil && !errors.Is(err, context.Canceled) {
			srcErr <- err
		}
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srcErr:
			return fmt.Errorf("source: %w", err)
		case in := <-inputs:
			out, err := l.Pipeline.Run(in)
			l.Metrics.observe(in, out, err)
			if err != nil {
				log.Error("translation failed; still serving the last good configuration", "err", err)
				l.reportStatus(out)
				continue
			}
			version, changed, err := l.Publisher.Publish(l.Group, out.Resources)
			l.reportStatus(out)
			if err != nil {
				log.Error("snapshot rejected; still serving the last good configuration", "err", err)
				l.Metrics.observe(in, nil, err)
				continue
			}
			if changed && l.Metrics != nil {
				l.Metrics.published.Inc()
			}
			log.Info("configuration published", "group", l.Group, "version", version, "changed", changed,
				"endpointsOnly", out.EndpointsOnly,
				"duration", out.Duration, "listeners", len(out.Resources.Listeners),
				"routeConfigurations", len(out.Resources.Routes), "clusters", len(out.Resources.Clusters))
			if l.OnPublished != nil {
				l.OnPublished(out, version, changed)
			}
		}
	}
}

func (l *Loop) reportStatus(out *Output) {
	if out != nil && l.OnStatus != nil {
		l.OnStatus(out.Statuses)
	}
}
