package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	getambassadorv3alpha1 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
)

// StatusWriter writes the translators' statuses back onto the objects:
// Ingress status.loadBalancer; GatewayClass, Gateway (conditions,
// listeners, addresses), BackendTLSPolicy ancestors and route status (HTTPRoute, GRPCRoute, TLSRoute,
// TCPRoute, UDPRoute: Legate's status.parents entries only); Emissary Mapping state and reason; and a Warning event per
// problem. It writes
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
	latest []*translators.ObjectStatus
	notify chan struct{}

	// events remembers which problems were already announced, so an
	// unchanged problem is not re-announced on every snapshot.
	events map[translators.ObjectRef][]translators.Problem
	// confirmed remembers, per object, the status last found written (or
	// written) and the object's resourceVersion then: while neither
	// changed there is nothing to compare, merge or write. Every snapshot
	// hands the writer every object's status, and working out each one's
	// patch again cost megabytes of garbage per snapshot at 10k routes.
	confirmed map[translators.ObjectRef]*confirmedStatus
	// pass counts write's passes, for confirmedStatus.seen.
	pass uint64
	// lastPass and lastConfirmed are the statuses of the last complete
	// pass, in its order (the list it was handed, which nobody writes),
	// and the objects' confirmed statuses (nil where none): snapshots
	// list the same objects in the same order from one edit to the next,
	// so a pass finds most records by position, comparing strings that
	// are mostly the very same, instead of hashing 10k object references
	// into the map (most of a pass's CPU at 10k routes, and a pass runs
	// every second of an edit storm). spare is the list of records before
	// that, reused.
	lastPass             []*translators.ObjectStatus
	lastConfirmed, spare []*confirmedStatus
	// stored, if set, returns the informer's own object of a ref (nil if
	// none), read-only: with it an object whose status was confirmed is
	// skipped without even a copy of it (see SetStored).
	stored func(translators.ObjectRef) client.Object
	// touched, if set, says which objects changed since the last call
	// (see SetTouched); unfinished says a pass stopped half way (its
	// context ended), so the next one must look at every object.
	touched    func() (refs []translators.ObjectRef, all bool)
	unfinished bool
}

// SetTouched gives the writer a way to learn which objects changed since
// it last asked (Provider.Touched). A pass then skips, without looking at
// the object, every object nobody touched since its status was confirmed
// and whose status is the confirmed one, lists and all (the translators
// hand out an unchanged object's very lists): at 10k routes a pass, once
// a second during an edit storm, then costs a walk over the statuses,
// not a lookup of every object.
func (w *StatusWriter) SetTouched(touched func() (refs []translators.ObjectRef, all bool)) {
	w.touched = touched
}

// SetStored gives the writer a way to the informers' own objects
// (Provider.Stored). A pass then looks at the objects whose status it
// confirmed without copying them: at 10k routes, a copy of each object on
// every snapshot was 10 MB of garbage per edit.
func (w *StatusWriter) SetStored(stored func(translators.ObjectRef) client.Object) {
	w.stored = stored
}

// confirmedStatus is a status known to be an object's at a version.
type confirmedStatus struct {
	resourceVersion string
	// status is the latest status found equal to the confirmed one: a pass
	// that finds them equal keeps the newer, whose lists the next
	// snapshot's status most likely shares, so that the next comparison
	// is one of pointers (a route's parents are made anew whenever
	// anything it attaches to changes, and were otherwise compared field by
	// field on every pass from then on).
	status *translators.ObjectStatus
	// seen is the last pass that had a status for the object.
	seen uint64
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
func (w *StatusWriter) Update(statuses []*translators.ObjectStatus) {
	w.mu.Lock()
	w.latest = statuses
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Statuses are written once snapshots have been quiet for writeQuiet (or
// writeMaxWait after the first of a burst): a burst of edits then costs
// one pass over every object's status, not one per edit, and a pass does
// not compete for CPU with the edit that follows the one it reports.
var (
	writeQuiet   = 100 * time.Millisecond
	writeMaxWait = time.Second
)

// Run writes statuses until ctx is done. Call it only on the leader.
func (w *StatusWriter) Run(ctx context.Context) {
	// Whatever arrived before this replica became leader is written first.
	w.write(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
			if !w.settle(ctx) {
				return
			}
			w.write(ctx)
		}
	}
}

// settle waits until no new statuses came for writeQuiet, or writeMaxWait
// passed; false if ctx ended.
func (w *StatusWriter) settle(ctx context.Context) bool {
	deadline := time.NewTimer(writeMaxWait)
	defer deadline.Stop()
	quiet := time.NewTimer(writeQuiet)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return true
		case <-quiet.C:
			return true
		case <-w.notify:
			quiet.Reset(writeQuiet)
		}
	}
}

func (w *StatusWriter) write(ctx context.Context) {
	w.mu.Lock()
	statuses := w.latest
	w.mu.Unlock()
	w.pass++
	// Objects touched since the last pass (by kind, namespace and name:
	// the providers' groups and the translators' may be spelled apart,
	// and one too many only costs a look).
	var touched map[touchKey]bool
	all := w.touched == nil
	if w.touched != nil {
		var refs []translators.ObjectRef
		refs, all = w.touched()
		touched = make(map[touchKey]bool, len(refs))
		for _, r := range refs {
			touched[touchKeyOf(r)] = true
		}
	}
	// After a pass that did not finish, the objects touched before it
	// that it did not reach are not in refs any more: look at everything.
	forced := w.unfinished
	all = all || forced
	w.unfinished = true
	recs := w.spare[:0]
	if cap(recs) < len(statuses) {
		recs = make([]*confirmedStatus, 0, len(statuses))
	}
	// aligned says every object so far is the last pass's at its place.
	aligned := len(statuses) == len(w.lastPass)
	for i, st := range statuses {
		if ctx.Err() != nil {
			return // unfinished stays set
		}
		var c *confirmedStatus
		if i < len(w.lastPass) && w.lastPass[i].Object == st.Object {
			c = w.lastConfirmed[i]
		} else {
			aligned = false
			c = w.confirmed[st.Object]
		}
		if !all && c != nil && identicalStatus(c.status, st) && !touched[touchKeyOf(st.Object)] {
			// Confirmed, and neither the status nor the object changed
			// since.
			c.seen = w.pass
			recs = append(recs, c)
			continue
		}
		next, err := w.writeOne(ctx, st, c)
		if err != nil {
			w.log.Warn("writing status", "object", st.Object.String(), "err", err)
			// Not confirmed: the next pass looks at the object again
			// (its record would let it skip it).
			delete(w.confirmed, st.Object)
			next = nil
		}
		recs = append(recs, next)
	}
	w.unfinished = false
	clear(w.lastConfirmed)
	w.lastPass, w.lastConfirmed, w.spare = statuses, recs, w.lastConfirmed
	if aligned && !forced {
		// The last pass's objects exactly: it forgot everything else.
		return
	}
	// Forget the confirmed statuses and announced problems of objects
	// that are gone, so the records do not grow with every object ever
	// deleted. (An object with announced problems has a confirmed status:
	// announce comes right before it.)
	for ref, c := range w.confirmed {
		if c.seen != w.pass {
			delete(w.confirmed, ref)
		}
	}
	for ref := range w.events {
		if w.confirmed[ref] == nil {
			delete(w.events, ref)
		}
	}
}

// writeOne writes st if the object does not hold it already, given the
// object's confirmed status (nil if none), and returns the object's
// confirmed status afterwards.
func (w *StatusWriter) writeOne(ctx context.Context, st *translators.ObjectStatus, c *confirmedStatus) (*confirmedStatus, error) {
	if c != nil {
		c.seen = w.pass
		if w.stored != nil {
			if o := w.stored(st.Object); o != nil && o.GetResourceVersion() == c.resourceVersion && sameStatus(c.status, st) {
				c.status = st
				return c, nil
			}
		}
	}
	obj, mutate := statusTarget(*st, metav1.Now())
	if obj == nil {
		return c, nil
	}
	key := types.NamespacedName{Namespace: st.Object.Namespace, Name: st.Object.Name}
	// Read from the informer cache when there is one: most passes change
	// nothing, and the cache answers without a request. A merge patch
	// carries no resourceVersion, so it cannot conflict; a stale cache
	// costs at most a patch that changes nothing.
	//
	// From the cache, obj is a shallow copy of the cached object (no deep
	// copy: every snapshot hands the writer every object, and most need
	// nothing written): its maps and slices are the cache's, which nobody
	// may write into. mutate only assigns status fields of obj itself,
	// never into what they point at, and base is a second shallow copy;
	// only an object that is written is deep-copied, since the patch
	// response is decoded into it.
	var err error
	if w.cached != nil {
		err = w.cached.Get(ctx, key, obj, client.UnsafeDisableDeepCopy)
	} else {
		err = w.client.Get(ctx, key, obj)
	}
	if err == nil {
		// The same status as last time, on the same version of the
		// object: what was found right then is right now.
		// (reflect.DeepEqual is quick on statuses that share their
		// lists, as unchanged objects' do.)
		if c != nil && c.resourceVersion == obj.GetResourceVersion() && sameStatus(c.status, st) {
			c.status = st
			return c, nil
		}
		base := shallowCopy(obj)
		if mutate(obj) {
			obj, err = w.patchStatus(ctx, base, obj)
		}
	}
	if apierrors.IsNotFound(err) {
		return c, nil // deleted meanwhile
	}
	if err != nil {
		return c, fmt.Errorf("%s status: %w", st.Object.Kind, err)
	}
	w.announce(obj, *st)
	if w.confirmed == nil {
		w.confirmed = map[translators.ObjectRef]*confirmedStatus{}
	}
	c = &confirmedStatus{resourceVersion: obj.GetResourceVersion(), status: st, seen: w.pass}
	w.confirmed[st.Object] = c
	return c, nil
}

// patchStatus writes obj's status, changed from base's, and returns the
// object's metadata as the API server answered (what announce and the
// confirmed record read). The answer is asked for as metadata alone: the
// whole object would be decoded only to be dropped, and the informer gets
// it anyway from its watch (at 10k routes a start writes 10k statuses, and
// each decoded answer was garbage left among the informer's objects).
func (w *StatusWriter) patchStatus(ctx context.Context, base, obj client.Object) (client.Object, error) {
	gvk, err := w.client.GroupVersionKindFor(obj)
	if err != nil {
		return obj, err
	}
	written := &metav1.PartialObjectMetadata{}
	written.SetGroupVersionKind(gvk)
	written.Namespace, written.Name = obj.GetNamespace(), obj.GetName()
	// The patch is made from obj (the body), never decoded into it: obj
	// shares the cache's maps and slices.
	err = w.client.Status().Patch(ctx, written, statusPatch(base, obj), w.owner, client.WithSubResourceBody(obj))
	return written, err
}

// touchKey names an object for the touched set: kind, namespace, name.
type touchKey struct{ kind, namespace, name string }

func touchKeyOf(r translators.ObjectRef) touchKey { return touchKey{r.Kind, r.Namespace, r.Name} }

// identicalStatus says whether a and b are one status made of the very
// same lists: what an unchanged object's status is from one snapshot to
// the next (the very entry, as a rule). It reads nothing the statuses'
// fields point to.
func identicalStatus(a, b *translators.ObjectStatus) bool {
	return a == b || a.Object == b.Object && a.Generation == b.Generation && a.RouteController == b.RouteController &&
		sameArray(a.Problems, b.Problems) && sameArray(a.Conditions, b.Conditions) &&
		sameArray(a.LoadBalancer, b.LoadBalancer) && sameArray(a.RouteParents, b.RouteParents) &&
		sameArray(a.PolicyAncestors, b.PolicyAncestors) &&
		a.GatewayClass == b.GatewayClass && a.Gateway == b.Gateway
}

// sameArray says whether a and b are the same slice: nil both, or the
// same length over the same array.
func sameArray[T any](a, b []T) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}

// sameStatus says whether a and b are one status. Translators hand out the
// very lists of an unchanged object's status from one snapshot to the
// next, so lists are compared by identity first and by content only when
// they differ. (TestSameStatusComparesEveryField keeps this in step with
// ObjectStatus.)
func sameStatus(a, b *translators.ObjectStatus) bool {
	return a == b || a.Object == b.Object && a.Generation == b.Generation && a.RouteController == b.RouteController &&
		sameList(a.Problems, b.Problems) && sameList(a.Conditions, b.Conditions) &&
		sameList(a.LoadBalancer, b.LoadBalancer) && sameList(a.RouteParents, b.RouteParents) &&
		sameList(a.PolicyAncestors, b.PolicyAncestors) &&
		samePointee(a.GatewayClass, b.GatewayClass) && samePointee(a.Gateway, b.Gateway)
}

func sameList[T any](a, b []T) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0] || reflect.DeepEqual(a, b)
}

func samePointee[T any](a, b *T) bool {
	return a == b || (a != nil && b != nil && reflect.DeepEqual(*a, *b))
}

// shallowCopy returns a new object holding the same field values as obj
// (a pointer to a struct).
func shallowCopy(obj client.Object) client.Object {
	v := reflect.ValueOf(obj).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	return c.Interface().(client.Object)
}

// statusTarget returns an empty object of st's kind and a function that
// sets st's status on a copy of the live object, reporting whether anything
// changed; nil for kinds with no status to write.
func statusTarget(st translators.ObjectStatus, now metav1.Time) (client.Object, func(client.Object) bool) {
	switch st.Object.Kind {
	case "Ingress":
		want := ingressLoadBalancer(st.LoadBalancer)
		return &networkingv1.Ingress{}, func(o client.Object) bool {
			ing := o.(*networkingv1.Ingress)
			if reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
				return false
			}
			ing.Status.LoadBalancer.Ingress = want
			return true
		}
	case "GatewayClass":
		if st.GatewayClass == nil {
			return nil, nil
		}
		return &gatewayv1.GatewayClass{}, func(o client.Object) bool {
			gc := o.(*gatewayv1.GatewayClass)
			want := gc.Status.DeepCopy()
			want.Conditions = mergeConditions(gc.Status.Conditions, st.GatewayClass.Conditions, now)
			if st.GatewayClass.SupportedFeatures != nil {
				want.SupportedFeatures = st.GatewayClass.SupportedFeatures
			}
			return setIfChanged(&gc.Status, *want)
		}
	case "Gateway":
		if st.Gateway == nil {
			return nil, nil
		}
		return &gatewayv1.Gateway{}, func(o client.Object) bool {
			gw := o.(*gatewayv1.Gateway)
			want := st.Gateway.DeepCopy()
			want.Conditions = mergeConditions(gw.Status.Conditions, want.Conditions, now)
			for i := range want.Listeners {
				var old []metav1.Condition
				for _, l := range gw.Status.Listeners {
					if l.Name == want.Listeners[i].Name {
						old = l.Conditions
					}
				}
				want.Listeners[i].Conditions = mergeConditions(old, want.Listeners[i].Conditions, now)
			}
			return setIfChanged(&gw.Status, *want)
		}
	case "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute":
		ours := st.RouteController
		if ours == "" && len(st.RouteParents) > 0 {
			ours = st.RouteParents[0].ControllerName
		}
		if ours == "" {
			return nil, nil
		}
		obj, status := newRoute(st.Object.Kind)
		return obj, func(o client.Object) bool {
			rs := status(o)
			want := rs.DeepCopy()
			want.Parents = mergeParents(rs.Parents, st.RouteParents, ours, now)
			return setIfChanged(rs, *want)
		}
	case "Host":
		state, reason := hostState(st)
		return &getambassadorv3alpha1.Host{}, func(o client.Object) bool {
			h := o.(*getambassadorv3alpha1.Host)
			if h.Status.State == state && h.Status.ErrorReason == reason {
				return false
			}
			h.Status.State, h.Status.ErrorReason = state, reason
			return true
		}
	case "BackendTLSPolicy":
		ours := st.RouteController
		if ours == "" && len(st.PolicyAncestors) > 0 {
			ours = st.PolicyAncestors[0].ControllerName
		}
		if ours == "" {
			return nil, nil
		}
		return &gatewayv1.BackendTLSPolicy{}, func(o client.Object) bool {
			p := o.(*gatewayv1.BackendTLSPolicy)
			want := p.Status.DeepCopy()
			want.Ancestors = mergeAncestors(p.Status.Ancestors, st.PolicyAncestors, ours, now)
			return setIfChanged(&p.Status, *want)
		}
	case "Mapping":
		want := mappingStatus(st)
		return &getambassadorv3alpha1.Mapping{}, func(o client.Object) bool {
			m := o.(*getambassadorv3alpha1.Mapping)
			if m.Status != nil && *m.Status == want {
				return false
			}
			m.Status = &want
			return true
		}
	}
	return nil, nil
}

// statusPatch is the merge patch that turns base's status into obj's. For
// a route it is status.parents, all of it, as encoded: that is what a
// merge patch computed by comparing the two would hold (mutate changes
// only the parents, and a merge patch replaces a list whole), without
// encoding both objects and diffing them, whose garbage, at 10k routes
// written after a start, was most of what the process allocated then
// (and scattered the informers' new objects among it).
func statusPatch(base, obj client.Object) client.Patch {
	var rs *gatewayv1.RouteStatus
	switch o := obj.(type) {
	case *gatewayv1.HTTPRoute:
		rs = &o.Status.RouteStatus
	case *gatewayv1.GRPCRoute:
		rs = &o.Status.RouteStatus
	case *gatewayv1.TLSRoute:
		rs = &o.Status.RouteStatus
	case *gatewayv1.TCPRoute:
		rs = &o.Status.RouteStatus
	case *gatewayv1.UDPRoute:
		rs = &o.Status.RouteStatus
	}
	if rs != nil {
		parents := rs.Parents
		if parents == nil {
			parents = []gatewayv1.RouteParentStatus{} // a required field
		}
		type routeStatus struct {
			Parents []gatewayv1.RouteParentStatus `json:"parents"`
		}
		data, err := json.Marshal(struct {
			Status routeStatus `json:"status"`
		}{routeStatus{parents}})
		if err == nil {
			return client.RawPatch(types.MergePatchType, data)
		}
	}
	return client.MergeFrom(base)
}

// newRoute returns an empty route of a Gateway API route kind and how to
// reach the status every route kind shares (status.parents).
func newRoute(kind string) (client.Object, func(client.Object) *gatewayv1.RouteStatus) {
	switch kind {
	case "GRPCRoute":
		return &gatewayv1.GRPCRoute{}, func(o client.Object) *gatewayv1.RouteStatus { return &o.(*gatewayv1.GRPCRoute).Status.RouteStatus }
	case "TLSRoute":
		return &gatewayv1.TLSRoute{}, func(o client.Object) *gatewayv1.RouteStatus { return &o.(*gatewayv1.TLSRoute).Status.RouteStatus }
	case "TCPRoute":
		return &gatewayv1.TCPRoute{}, func(o client.Object) *gatewayv1.RouteStatus { return &o.(*gatewayv1.TCPRoute).Status.RouteStatus }
	case "UDPRoute":
		return &gatewayv1.UDPRoute{}, func(o client.Object) *gatewayv1.RouteStatus { return &o.(*gatewayv1.UDPRoute).Status.RouteStatus }
	}
	return &gatewayv1.HTTPRoute{}, func(o client.Object) *gatewayv1.RouteStatus { return &o.(*gatewayv1.HTTPRoute).Status.RouteStatus }
}

// hostState is Emissary's view of a Host: Ready when it is served, Error
// with the first error as the reason when it is left out. Warnings (ACME
// not supported, ...) leave it Ready; they are in the problems Legate
// reports elsewhere (events, diagnostics).
func hostState(st translators.ObjectStatus) (getambassadorv3alpha1.HostState, string) {
	for _, p := range st.Problems {
		if p.Severity == translators.SeverityError {
			msg := p.Message
			if p.Field != "" {
				msg = p.Field + ": " + msg
			}
			return "Error", msg
		}
	}
	return "Ready", ""
}

// mappingStatus is Emissary's view of a Mapping: Running when all of it is
// served, Inactive with the first error as the reason when some of it is
// not (warnings, such as a field not supported yet, leave it Running with
// the warning as the reason, so that `kubectl get mappings` shows it).
func mappingStatus(st translators.ObjectStatus) getambassadorv3alpha1.MappingStatus {
	out := getambassadorv3alpha1.MappingStatus{State: "Running"}
	for _, p := range st.Problems {
		msg := p.Message
		if p.Field != "" {
			msg = p.Field + ": " + msg
		}
		if p.Severity == translators.SeverityError {
			return getambassadorv3alpha1.MappingStatus{State: "Inactive", Reason: msg}
		}
		if out.Reason == "" {
			out.Reason = msg
		}
	}
	return out
}

func setIfChanged[T any](dst *T, want T) bool {
	if reflect.DeepEqual(*dst, want) {
		return false
	}
	*dst = want
	return true
}

// mergeConditions returns want with each condition's LastTransitionTime
// taken from old when its status did not change, and now otherwise.
// Conditions Legate no longer sets are dropped.
func mergeConditions(old, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, len(want))
	for i, c := range want {
		c.LastTransitionTime = now
		if prev := meta.FindStatusCondition(old, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		out[i] = c
	}
	return out
}

// mergeParents keeps other controllers' entries of a route's
// status.parents as they are and replaces Legate's with want: an entry of
// Legate's for a parent the route no longer has is removed, and an empty
// want removes them all.
func mergeParents(old, want []gatewayv1.RouteParentStatus, ours gatewayv1.GatewayController, now metav1.Time) []gatewayv1.RouteParentStatus {
	return mergeEntries(old, want, ours, now, func(p *gatewayv1.RouteParentStatus) (gatewayv1.GatewayController, any, *[]metav1.Condition) {
		return p.ControllerName, p.ParentRef, &p.Conditions
	})
}

// mergeAncestors is mergeParents for a policy's status.ancestors.
func mergeAncestors(old, want []gatewayv1.PolicyAncestorStatus, ours gatewayv1.GatewayController, now metav1.Time) []gatewayv1.PolicyAncestorStatus {
	return mergeEntries(old, want, ours, now, func(a *gatewayv1.PolicyAncestorStatus) (gatewayv1.GatewayController, any, *[]metav1.Condition) {
		return a.ControllerName, a.AncestorRef, &a.Conditions
	})
}

// mergeEntries merges per-controller status entries (route parents,
// policy ancestors): others' entries are kept as they are, Legate's are
// replaced by want, each keeping the transition times of the entry it
// replaces for the same reference. fields gives an entry's controller, its
// reference and its conditions.
func mergeEntries[E any](old, want []E, ours gatewayv1.GatewayController, now metav1.Time,
	fields func(*E) (gatewayv1.GatewayController, any, *[]metav1.Condition)) []E {
	if len(old) == 0 && len(want) == 0 {
		return old
	}
	// Never nil once something was there: these lists are required, and a
	// merge patch would turn nil into removing the field.
	out := make([]E, 0, len(old)+len(want))
	for i := range old {
		if c, _, _ := fields(&old[i]); c != ours {
			out = append(out, old[i])
		}
	}
	for _, w := range want {
		_, ref, _ := fields(&w)
		var prev []metav1.Condition
		for i := range old {
			if c, oref, conds := fields(&old[i]); c == ours && reflect.DeepEqual(oref, ref) {
				prev = *conds
			}
		}
		_, _, conds := fields(&w)
		// w is a copy of want's entry, but its conditions slice is
		// shared: mergeConditions returns a new one.
		*conds = mergeConditions(prev, *conds, now)
		out = append(out, w)
	}
	return out
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
