// Package kubernetes fills translators.Inputs from a live Kubernetes API
// with controller-runtime informers, and writes the translators' status back
// onto the objects (leader only).
//
// The watch list is the registry's: every kind any registered translator
// reads, and nothing else. The first snapshot is emitted only after every
// informer has synced, so a restarting Legate never hands Envoy an empty or
// partial configuration; while the API server is away the informers keep
// their last state (and the caller keeps serving its last snapshot) and
// reconnect on their own.
//
// Secrets: only Secrets of type kubernetes.io/tls are cached (a field
// selector on the watch), so a cluster's other Secrets (service-account
// tokens, registry credentials, application secrets) never enter Legate's
// memory or logs.
package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/legateproxy/legate/internal/intern"
	"github.com/legateproxy/legate/translators"
)

// Options configure the provider.
type Options struct {
	Config   *rest.Config
	Registry *translators.Registry
	// Namespaces to watch; empty watches all.
	Namespaces []string
	Logger     *slog.Logger
	// MinInterval bounds the snapshot rate: a change after a quiet spell
	// gets a snapshot at once (a single edit waits for no timer), and the
	// changes that follow within MinInterval of a snapshot are coalesced
	// into one taken MinInterval after it. Default 5ms, the file
	// provider's quiet period: an edit right after another (endpoints of
	// a rollout, one after the other) waits at most that long, a burst of
	// events (an apply of many objects) still gives few snapshots, not one
	// each, because while the pipeline is busy translating, snapshots wait
	// for it and the changes meanwhile go into the next one.
	MinInterval time.Duration
	// StatusSettle is how long after the last status-only update (Legate's
	// own status writes, mostly) a snapshot is still taken when nothing
	// else changed. Such updates ask for no snapshot of their own, but
	// the objects they leave carry new resourceVersions, which the next
	// translation has to tell from real changes (a route whose spec is
	// unchanged keeps its translation, after a comparison). Without this
	// snapshot, the first edit after a status pass over 10k routes paid
	// for comparing all of them; with it, that is done while idle.
	// Default 250ms: a status pass writes one object after another, so
	// it ends before its snapshot is taken, and an edit a person makes
	// next finds the comparisons done. Negative takes none.
	StatusSettle time.Duration
}

// Provider watches the API server.
type Provider struct {
	opts Options
	// strings interns the vocabulary of the objects the informers store
	// (namespaces, routes' parent references and status entries).
	strings intern.Strings
	// typeMetas are the apiVersion and kind of each kind seen, as one
	// pair of strings per kind (see setKind).
	typeMetas sync.Map
	scheme    *runtime.Scheme
	cache     cache.Cache
	kinds     []*kind
	log       *slog.Logger

	// mu guards every kind's objects, last, touched and touchedAll.
	mu sync.Mutex
	// touched are the objects changed since the last call of Touched,
	// unless touchedAll (too many to list).
	touched    []translators.ObjectRef
	touchedAll bool
	// last is the last snapshot, which the next one's lookup indexes are
	// patched from (Inputs.IndexFrom).
	last *translators.Inputs
}

// kind is one watched object kind and the objects of it the informer
// holds.
type kind struct {
	gvk      schema.GroupVersionKind
	template client.Object

	// objects are the informer's own objects (the pointers it stores, not
	// copies), by namespace and name: they are read-only, so snapshots
	// share them instead of deep-copying every object each time.
	objects map[types.NamespacedName]client.Object
	// sorted is objects in Inputs order as of the last snapshot, and list
	// the same in the form Inputs holds it; changed are the keys put or
	// removed since. A snapshot patches sorted where those keys sit (or
	// sorts again after many changes, as when the informer first lists
	// everything), and remakes list, only for a kind that changed.
	sorted  []client.Object
	list    translators.List
	changed map[types.NamespacedName]bool
	// resort says so many keys changed that the next snapshot sorts
	// objects again: changed is then dropped rather than grown (after a
	// status pass it would hold every route's key until the next
	// snapshot, which may be hours away).
	resort bool
}

// New prepares the informers; Run starts them.
func New(o Options) (*Provider, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinInterval == 0 {
		o.MinInterval = 5 * time.Millisecond
	}
	if o.StatusSettle == 0 {
		o.StatusSettle = 250 * time.Millisecond
	}
	scheme, err := o.Registry.Scheme()
	if err != nil {
		return nil, err
	}
	p := &Provider{opts: o, scheme: scheme, log: o.Logger}
	for _, obj := range o.Registry.Kinds() {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			return nil, fmt.Errorf("kind of %T: %w", obj, err)
		}
		p.kinds = append(p.kinds, &kind{gvk: gvk, template: obj, objects: map[types.NamespacedName]client.Object{}})
	}
	copts := cache.Options{
		Scheme:           scheme,
		DefaultTransform: p.transform,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS))},
		},
	}
	if len(o.Namespaces) > 0 {
		copts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range o.Namespaces {
			copts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	p.cache, err = cache.New(o.Config, copts)
	if err != nil {
		return nil, fmt.Errorf("informer cache: %w", err)
	}
	return p, nil
}

// Cache is the informer cache, for the status writer's reads.
func (p *Provider) Cache() cache.Cache { return p.cache }

// Stored returns the informer's own object that ref names (its group, when
// set, and kind, namespace and name), or nil. It is shared: read it, never
// write it.
func (p *Provider) Stored(ref translators.ObjectRef) client.Object {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.kinds {
		if k.gvk.Kind == ref.Kind && (ref.Group == "" || k.gvk.Group == ref.Group) {
			return k.objects[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}]
		}
	}
	return nil
}

// Scheme is the scheme of every watched kind.
func (p *Provider) Scheme() *runtime.Scheme { return p.scheme }

// transform runs on every object the informers receive, before they store
// it and before anyone else can see it: the only moment an informer's
// object may be written to. It strips bulk (stripBulk), interns the
// strings objects repeat (intern.Strings.Object) and sets the
// object's kind, which typed lists leave empty and translators read, so
// that snapshots can hand out the stored objects as they are.
func (p *Provider) transform(obj any) (any, error) {
	obj, err := stripBulk(obj)
	if err != nil {
		return obj, err
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		stripEndpoints(s)
	}
	p.strings.Object(obj)
	if ro, ok := obj.(runtime.Object); ok && ro.GetObjectKind().GroupVersionKind().Empty() {
		if gvk, err := apiutil.GVKForObject(ro, p.scheme); err == nil {
			p.setKind(ro, gvk)
		}
	}
	return obj, nil
}

// setKind sets obj's apiVersion and kind to gvk's, as one string each
// for every object of the kind: SetGroupVersionKind makes the apiVersion
// string anew for each object (30k strings of a 10k-route cluster).
// Informers transform on goroutines of their own, hence the sync.Map.
func (p *Provider) setKind(obj runtime.Object, gvk schema.GroupVersionKind) {
	tm, ok := obj.GetObjectKind().(*metav1.TypeMeta)
	if !ok {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		return
	}
	v, ok := p.typeMetas.Load(gvk)
	if !ok {
		apiVersion, kind := gvk.ToAPIVersionAndKind()
		v, _ = p.typeMetas.LoadOrStore(gvk, metav1.TypeMeta{APIVersion: apiVersion, Kind: kind})
	}
	*tm = v.(metav1.TypeMeta)
}

// stripEndpoints drops the parts of a slice's endpoints no translator
// reads: which Pod and node each one is (targetRef, nodeName), and its
// topology (zone, hints, deprecatedTopology). With every Pod's reference
// they are most of a slice's size in a cluster; Envoy gets addresses,
// ports and conditions only.
func stripEndpoints(s *discoveryv1.EndpointSlice) {
	for i := range s.Endpoints {
		e := &s.Endpoints[i]
		e.TargetRef, e.NodeName, e.Zone, e.Hints, e.DeprecatedTopology = nil, nil, nil, nil, nil
	}
}

// stripBulk drops what Legate never reads and what makes cached objects big:
// managed fields and the last-applied-configuration annotation.
func stripBulk(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetManagedFields(nil)
		if ann := acc.GetAnnotations(); ann != nil {
			if _, ok := ann[corev1.LastAppliedConfigAnnotation]; ok {
				delete(ann, corev1.LastAppliedConfigAnnotation)
				acc.SetAnnotations(ann)
			}
		}
	}
	return obj, nil
}

// Run starts the informers, waits until every one has synced, then emits a
// snapshot and a new one after every change (at most one per MinInterval),
// until ctx is done.
func (p *Provider) Run(ctx context.Context, out chan<- *translators.Inputs) error {
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	statusChanged := make(chan struct{}, 1)
	pokeStatus := func() {
		select {
		case statusChanged <- struct{}{}:
		default:
		}
	}
	watched := p.kinds[:0:0]
	var synced []toolscache.InformerSynced
	for _, k := range p.kinds {
		statusTracked := hasStatusSubresource(k.gvk)
		handler := toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				p.put(k, obj)
				poke()
			},
			UpdateFunc: func(oldObj, newObj any) {
				// The new object replaces the old one in the next
				// snapshot either way; a status-only change just does not
				// ask for one.
				p.put(k, newObj)
				if statusTracked && statusOnly(oldObj, newObj) {
					pokeStatus()
					return
				}
				poke()
			},
			DeleteFunc: func(obj any) {
				p.remove(k, obj)
				poke()
			},
		}
		inf, err := p.cache.GetInformer(ctx, k.template)
		if meta.IsNoMatchError(err) {
			// A translator's CRDs are not installed (say, no Emissary
			// CRDs in a Gateway API cluster): its other kinds still work.
			// Installing them later takes a restart, as with other
			// controllers.
			p.log.Warn("kind not served by the API server (CRD not installed?); not watching it",
				"group", k.gvk.Group, "version", k.gvk.Version, "kind", k.gvk.Kind)
			continue
		}
		if err != nil {
			return fmt.Errorf("informer for %s: %w", k.gvk.Kind, err)
		}
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return fmt.Errorf("watching %s: %w", k.gvk.Kind, err)
		}
		synced = append(synced, reg.HasSynced)
		watched = append(watched, k)
	}
	p.kinds = watched
	var wg sync.WaitGroup
	cacheErr := make(chan error, 1)
	wg.Go(func() { cacheErr <- p.cache.Start(ctx) })
	defer wg.Wait()

	start := time.Now()
	// Synced informers, and handlers that have seen every object of their
	// initial lists: only then do the kinds' object sets hold everything.
	if !p.cache.WaitForCacheSync(ctx) || !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
		if err := ctx.Err(); err != nil {
			return nil
		}
		return fmt.Errorf("informer caches did not sync")
	}
	p.log.Info("informers synced", "kinds", len(p.kinds), "after", time.Since(start))
	// Events that arrived while syncing are in the first snapshot.
	for _, ch := range []chan struct{}{changed, statusChanged} {
		select {
		case <-ch:
		default:
		}
	}
	if err := p.emit(ctx, out); err != nil {
		return err
	}

	// timer is armed while a change waits for its snapshot, settle while
	// status-only updates do (see Options.StatusSettle); a nil channel
	// never fires.
	var timer <-chan time.Time
	var settle *time.Timer
	defer func() {
		if settle != nil {
			settle.Stop()
		}
	}()
	last := time.Now()
	for {
		var settled <-chan time.Time
		if settle != nil {
			settled = settle.C
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-cacheErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("informer cache stopped: %w", err)
		case <-changed:
			if timer == nil {
				// Leading edge after a quiet spell, else the end of the
				// interval: at most one snapshot per MinInterval.
				timer = time.After(time.Until(last.Add(p.opts.MinInterval)))
			}
			continue
		case <-settled:
			// Counts as a change from here: within MinInterval of the
			// last snapshot, it waits as one would.
			settle = nil
			if timer == nil {
				timer = time.After(time.Until(last.Add(p.opts.MinInterval)))
			}
			continue
		case <-statusChanged:
			// Trailing edge: a status pass writes for seconds, and one
			// snapshot after it is enough.
			if p.opts.StatusSettle > 0 {
				if settle == nil {
					settle = time.NewTimer(p.opts.StatusSettle)
				} else {
					settle.Reset(p.opts.StatusSettle)
				}
			}
			continue
		case <-timer:
		}
		timer = nil
		// Any snapshot holds the objects of the status-only updates so far.
		if settle != nil {
			settle.Stop()
			settle = nil
		}
		if err := p.emit(ctx, out); err != nil {
			return err
		}
		last = time.Now()
	}
}

// hasStatusSubresource reports whether objects of kind gvk keep their
// status apart from their spec, with metadata.generation counting changes
// to everything but metadata and status: Ingress, the Gateway API kinds and
// the getambassador.io kinds.
func hasStatusSubresource(gvk schema.GroupVersionKind) bool {
	switch gvk.Group {
	case "gateway.networking.k8s.io", "getambassador.io":
		return true
	case "networking.k8s.io":
		return gvk.Kind == "Ingress"
	}
	return false
}

// statusOnly reports whether an update of an object of such a kind left
// its generation, labels, annotations and deletion time alone: what
// changed is then its status (or bookkeeping such as managed fields), which
// translators read only to find the status entries Legate once wrote and
// must clean up. Legate's own status writes are such updates; without this
// filter each would trigger a full translation of its own. The informer
// cache still holds the new object, so the next snapshot sees it.
func statusOnly(oldObj, newObj any) bool {
	o, ok := oldObj.(client.Object)
	if !ok {
		return false
	}
	n, ok := newObj.(client.Object)
	if !ok {
		return false
	}
	return n.GetGeneration() != 0 && o.GetGeneration() == n.GetGeneration() &&
		maps.Equal(o.GetLabels(), n.GetLabels()) && maps.Equal(o.GetAnnotations(), n.GetAnnotations()) &&
		o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
}

func (p *Provider) emit(ctx context.Context, out chan<- *translators.Inputs) error {
	in, err := p.Snapshot(ctx)
	if err != nil {
		return err
	}
	select {
	case out <- in:
	case <-ctx.Done():
	}
	return nil
}

// put records obj, the informer's stored object, as the current one of
// its namespace and name.
func (p *Provider) put(k *kind, obj any) {
	o, ok := obj.(client.Object)
	if !ok {
		return
	}
	if err := translators.CheckObject(o); err != nil {
		// The API server never stores such a name; were one to come,
		// it is left out here, once, rather than failing every snapshot.
		if p.log != nil {
			p.log.Warn("ignoring an object no configuration can name", "kind", k.gvk.Kind, "err", err)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := client.ObjectKeyFromObject(o)
	k.objects[key] = o
	k.touch(key)
	p.touchRef(k, key)
}

// remove forgets a deleted object (or the tombstone of one whose deletion
// the informer missed).
func (p *Provider) remove(k *kind, obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	o, ok := obj.(client.Object)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := client.ObjectKeyFromObject(o)
	delete(k.objects, key)
	k.touch(key)
	p.touchRef(k, key)
}

// maxTouched bounds the objects Touched remembers between two calls; past
// it, Touched says that any object may have changed.
const maxTouched = 4096

// touchRef remembers that an object changed, for Touched. p.mu is held.
func (p *Provider) touchRef(k *kind, key types.NamespacedName) {
	if p.touchedAll {
		return
	}
	if len(p.touched) >= maxTouched {
		p.touched, p.touchedAll = nil, true
		return
	}
	p.touched = append(p.touched, translators.ObjectRef{Group: k.gvk.Group, Kind: k.gvk.Kind, Namespace: key.Namespace, Name: key.Name})
}

// Touched returns the objects that were added, changed or deleted since
// the last call (all is set when they were too many to remember: then any
// may have changed). The status writer asks, so that a pass need not look
// at the objects nobody touched (StatusWriter.SetTouched).
func (p *Provider) Touched() (refs []translators.ObjectRef, all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	refs, all = p.touched, p.touchedAll
	p.touched, p.touchedAll = nil, false
	return refs, all
}

// touch records that key was put or removed, for the next snapshot's
// refresh; none is recorded when that will sort everything anyway.
func (k *kind) touch(key types.NamespacedName) {
	if k.resort || k.sorted == nil {
		return
	}
	if k.changed == nil {
		k.changed = map[types.NamespacedName]bool{}
	}
	k.changed[key] = true
	if k.sorted != nil && len(k.changed) > len(k.sorted)/8 {
		k.changed, k.resort = nil, true
	}
}

// Snapshot returns every watched object in one Inputs. The objects are the
// informers' own, shared with every other snapshot that holds them
// unchanged: nobody may write into them (translators.Inputs is read-only),
// and an unchanged object keeps its pointer from one snapshot to the next.
// So do the lists of kinds that did not change, and the lookup indexes
// are patched from the last snapshot's: a snapshot costs what changed.
func (p *Provider) Snapshot(context.Context) (*translators.Inputs, error) {
	in := &translators.Inputs{}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.kinds {
		k.refresh()
		k.list.AddTo(in)
	}
	// Every kind is in order already (refresh keeps it so); only Others,
	// which holds several kinds, is ordered here.
	in.SortOthers()
	in.IndexFrom(p.last)
	p.last = in
	return in, nil
}

// refresh brings sorted and list up to date with objects.
func (k *kind) refresh() {
	if !k.resort && len(k.changed) == 0 && (k.sorted != nil || len(k.objects) == 0) {
		return
	}
	if k.resort || k.sorted == nil || len(k.changed) > len(k.objects)/8 {
		k.sorted = slices.SortedFunc(maps.Values(k.objects), compareObjects)
	} else {
		k.sorted = k.patched()
	}
	k.changed, k.resort = nil, false
	// put let in only objects CheckObject passed.
	k.list = translators.MakeCheckedList(k.sorted)
}

// patched is sorted with the changed keys' objects as they are now: the
// unchanged ones in place, each changed key's old object (if any) found by
// binary search and replaced by its object now (if any). Unchanged runs
// are copied whole, so a change costs a search per changed key and a copy
// of the list, not a lookup per object.
func (k *kind) patched() []client.Object {
	keys := make([]types.NamespacedName, 0, len(k.changed))
	for key := range k.changed {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(a, b types.NamespacedName) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	out := make([]client.Object, 0, len(k.objects))
	i := 0
	for _, key := range keys {
		j, found := slices.BinarySearchFunc(k.sorted[i:], key, func(o client.Object, key types.NamespacedName) int {
			return cmp.Or(strings.Compare(o.GetNamespace(), key.Namespace), strings.Compare(o.GetName(), key.Name))
		})
		out = append(out, k.sorted[i:i+j]...)
		i += j
		if found {
			i++ // the key's old object
		}
		if o := k.objects[key]; o != nil {
			out = append(out, o)
		}
	}
	return append(out, k.sorted[i:]...)
}

func compareObjects(a, b client.Object) int {
	return cmp.Or(strings.Compare(a.GetNamespace(), b.GetNamespace()), strings.Compare(a.GetName(), b.GetName()))
}
