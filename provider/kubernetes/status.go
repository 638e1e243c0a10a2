package kubernetes

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
)

// StatusWriter writes the translators' statuses back onto the objects:
// Ingress status.loadBalancer, and a Warning event per problem. It writes
// only what changed, and only while it runs, which is while its replica
// holds the leader lease (see Elect).
type StatusWriter struct {
	client client.Client
	// cached, if set, is read first (the informer cache): an object whose
	// cached status already holds what would be written is skipped without
	// a request. Every snapshot hands the writer every object's status, so
	// without this a pass costs a GET per object, which at the client's
	// rate limit takes minutes with a thousand Ingresses.
	cached client.Reader
	// owner is the field manager of every write: the replica's identity,
	// so an object's managedFields say which replica wrote its status.
	owner    client.FieldOwner
	recorder record.EventRecorder
	log      *slog.Logger

	mu     sync.Mutex
	latest []translators.ObjectStatus
	notify chan struct{}

	// events remembers which problems were already announced, so an
	// unchanged problem is not re-announced on every snapshot.
	events map[translators.ObjectRef][]translators.Problem
}

// NewStatusWriter makes a writer that writes to the API server directly,
// reading the object it updates from the API server too (an update must
// start from the current resourceVersion). cached, if not nil, is consulted
// first to skip objects whose status is already right.
func NewStatusWriter(cfg *rest.Config, scheme *runtime.Scheme, cached client.Reader, identity string, log *slog.Logger) (*StatusWriter, error) {
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("status client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("event client: %w", err)
	}
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	return &StatusWriter{
		client:   c,
		cached:   cached,
		owner:    client.FieldOwner(identity),
		recorder: b.NewRecorder(scheme, corev1.EventSource{Component: "legate"}),
		log:      log,
		notify:   make(chan struct{}, 1),
		events:   map[translators.ObjectRef][]translators.Problem{},
	}, nil
}

// Update hands the writer the statuses of the newest snapshot. It never
// blocks; only the newest statuses are written.
func (w *StatusWriter) Update(statuses []translators.ObjectStatus) {
	w.mu.Lock()
	w.latest = statuses
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Run writes statuses until ctx is done. Call it only on the leader.
func (w *StatusWriter) Run(ctx context.Context) {
	// Whatever arrived before this replica became leader is written first.
	w.write(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
			w.write(ctx)
		}
	}
}

func (w *StatusWriter) write(ctx context.Context) {
	w.mu.Lock()
	statuses := w.latest
	w.mu.Unlock()
	present := make(map[translators.ObjectRef]bool, len(statuses))
	for _, st := range statuses {
		if ctx.Err() != nil {
			return
		}
		present[st.Object] = true
		if err := w.writeOne(ctx, st); err != nil {
			w.log.Warn("writing status", "object", st.Object.String(), "err", err)
		}
	}
	// Forget the announced problems of objects that are gone, so the
	// record does not grow with every object ever deleted.
	for ref := range w.events {
		if !present[ref] {
			delete(w.events, ref)
		}
	}
}

func (w *StatusWriter) writeOne(ctx context.Context, st translators.ObjectStatus) error {
	switch st.Object.Kind {
	case "Ingress":
		ing := &networkingv1.Ingress{}
		key := types.NamespacedName{Namespace: st.Object.Namespace, Name: st.Object.Name}
		want := ingressLoadBalancer(st.LoadBalancer)
		var err error
		if w.cached != nil && w.cached.Get(ctx, key, ing) == nil {
			// Compare with the cached object and send only the difference:
			// one request per changed object, none for the rest. A merge
			// patch carries no resourceVersion, so it cannot conflict, and
			// it replaces the whole list. A stale cache costs at most a
			// patch that changes nothing.
			if !reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
				base := ing.DeepCopy()
				ing.Status.LoadBalancer.Ingress = want
				err = w.client.Status().Patch(ctx, ing, client.MergeFrom(base), w.owner)
			}
		} else {
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				if err := w.client.Get(ctx, key, ing); err != nil {
					return err
				}
				if reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
					return nil
				}
				ing.Status.LoadBalancer.Ingress = want
				return w.client.Status().Update(ctx, ing, w.owner)
			})
		}
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("ingress status: %w", err)
		}
		w.announce(ing, st)
	}
	return nil
}

// announce emits one Warning event per new problem of obj.
func (w *StatusWriter) announce(obj runtime.Object, st translators.ObjectStatus) {
	if slices.Equal(w.events[st.Object], st.Problems) {
		return
	}
	for _, p := range st.Problems {
		if slices.Contains(w.events[st.Object], p) {
			continue
		}
		msg := p.Message
		if p.Field != "" {
			msg = p.Field + ": " + msg
		}
		w.recorder.Event(obj, corev1.EventTypeWarning, p.Reason, msg)
	}
	w.events[st.Object] = slices.Clone(st.Problems)
}

func ingressLoadBalancer(addrs []string) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	for _, a := range addrs {
		if _, err := netip.ParseAddr(a); err == nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	return out
}
