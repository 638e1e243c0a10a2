package pipeline

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// The endpoint fast path.
//
// Pods come and go far more often than anything else changes, and every
// such change is an EndpointSlice update. Translating the whole snapshot
// for it (10k routes: most of a second) is wasted work, since the only
// thing an EndpointSlice can change is the endpoints of the clusters built
// from its Service: translators read EndpointSlices only through
// translators.ServiceEndpoints, and say so on each cluster they build that
// way (ir.Cluster.EndpointsFrom).
//
// So when the new Inputs differ from the last ones in EndpointSlices only,
// Run takes the last IR, recomputes with that same helper the endpoints of
// the clusters whose Service's slices changed, and rebuilds and validates
// just their ClusterLoadAssignments (xds.Validator.WithEndpoints). Its
// output is the output a full run would give (TestFastPathEqualsFullPath
// checks this on random edits). Anything it cannot prove unchanged takes
// the full path:
//   - any object other than an EndpointSlice added, removed or changed,
//     or one without a resourceVersion (nothing to compare), or new
//     Settings;
//   - an EndpointSlice without a resourceVersion;
//   - a last IR holding an EDS cluster whose endpoints were derived some
//     other way (EndpointsFrom nil), or a snapshot with UDPRoutes (their
//     translator weights backends by endpoint counts, which can change
//     statuses);
//   - no last good output.

// last is what the previous successful run saw and made.
type last struct {
	in       *translators.Inputs
	settings translators.Settings
	out      *Output
	// clusters indexes the EDS clusters of out.IR by the Service their
	// endpoints come from; the fast path keeps the clusters' order, so
	// it carries over to the last it makes.
	clusters *clusterIndex
}

// clusterIndex maps "namespace/service" to the positions of the EDS
// clusters built from it; usable is false when some EDS cluster's
// endpoints were derived another way (EndpointsFrom nil).
type clusterIndex struct {
	byService map[string][]int
	usable    bool
}

// clusterIndex returns the index of l's clusters, building it the first
// time: an EndpointSlice edit then costs what it changed, not a look at
// every cluster.
func (l *last) clusterIndex() *clusterIndex {
	if l.clusters != nil {
		return l.clusters
	}
	x := &clusterIndex{byService: map[string][]int{}, usable: true}
	for i, c := range l.out.IR.Clusters {
		if c.Kind != ir.ClusterEDS {
			continue
		}
		from := c.EndpointsFrom
		if from == nil {
			x.usable = false
			break
		}
		key := from.Namespace + "/" + from.Service
		x.byService[key] = append(x.byService[key], i)
	}
	l.clusters = x
	return x
}

// runEndpoints is the fast path: it returns nil, nil when in does not
// qualify, and the caller runs the full path.
func (p *Pipeline) runEndpoints(in *translators.Inputs) (*Output, error) {
	prev := p.last
	if prev == nil || prev.out.Resources == nil || !reflect.DeepEqual(prev.settings, p.Settings) {
		return nil, nil
	}
	if len(in.UDPRoutes) > 0 || !sameExceptEndpointSlices(prev.in, in) {
		return nil, nil
	}
	changed, ok := changedServices(prev.in.EndpointSlices, in.EndpointSlices)
	if !ok {
		return nil, nil
	}
	start := time.Now()
	index := prev.clusterIndex()
	if !index.usable {
		return nil, nil
	}
	var at []int
	for svc := range changed {
		at = append(at, index.byService[svc]...)
	}
	// In cluster order, as a look at every cluster would find them.
	slices.Sort(at)
	cfg := *prev.out.IR
	cfg.Clusters = append(cfg.Clusters[:0:0], cfg.Clusters...)
	var rebuilt []*ir.Cluster
	for _, i := range at {
		c := cfg.Clusters[i]
		from := c.EndpointsFrom
		cl := *c
		cl.Endpoints = translators.ServiceEndpoints(in.EndpointSlicesFor(from.Namespace, from.Service), from.PortName)
		cfg.Clusters[i] = &cl
		rebuilt = append(rebuilt, &cl)
	}
	res, err := p.validator.WithEndpoints(prev.out.Resources, rebuilt)
	if err != nil {
		return nil, fmt.Errorf("endpoint fast path: %w", err)
	}
	// Statuses do not depend on endpoints (see above), so the last ones
	// still hold.
	out := &Output{
		Result:        translators.Result{IR: &cfg, Statuses: prev.out.Statuses},
		Resources:     res,
		EndpointsOnly: true,
	}
	out.Duration = time.Since(start)
	return out, nil
}

// sameExceptEndpointSlices reports whether a and b hold the same objects,
// EndpointSlices aside: the same kinds, namespaces and names, each with
// the same (non-empty) UID and resourceVersion. Both are sorted (Sort),
// so the lists line up.
//
// It is asked on every snapshot, so it looks at each list of Inputs on
// its own and allocates nothing: a list a provider shares with its last
// snapshot (the file provider shares the lists of kinds that did not
// change) is the same in both, and any other is walked.
func sameExceptEndpointSlices(a, b *translators.Inputs) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for _, f := range inputLists() {
		if f.Type == endpointSlicesType {
			continue
		}
		la, lb := va.FieldByIndex(f.Index), vb.FieldByIndex(f.Index)
		if la.Len() != lb.Len() {
			return false
		}
		if la.Len() == 0 || la.Pointer() == lb.Pointer() {
			continue
		}
		for i := range la.Len() {
			x, y := la.Index(i).Interface().(client.Object), lb.Index(i).Interface().(client.Object)
			if !sameObject(x, y) {
				return false
			}
		}
	}
	return true
}

var endpointSlicesType = reflect.TypeFor[[]*discoveryv1.EndpointSlice]()

// inputLists are the fields of Inputs that hold objects: every exported
// slice field.
var inputLists = sync.OnceValue(func() []reflect.StructField {
	var out []reflect.StructField
	t := reflect.TypeFor[translators.Inputs]()
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && f.Type.Kind() == reflect.Slice {
			out = append(out, f)
		}
	}
	return out
})

// sameObject says whether x and y are one object in one version: the very
// object (providers share unchanged objects, which are immutable), or the
// same kind, namespace, name and UID with one non-empty resourceVersion.
func sameObject(x, y client.Object) bool {
	if x == y {
		return true
	}
	return reflect.TypeOf(x) == reflect.TypeOf(y) && x.GetNamespace() == y.GetNamespace() &&
		x.GetName() == y.GetName() && x.GetUID() == y.GetUID() &&
		x.GetResourceVersion() != "" && x.GetResourceVersion() == y.GetResourceVersion()
}

// changedServices returns the Services ("namespace/name") whose
// EndpointSlices differ between a and b: a slice added, removed, changed
// (by resourceVersion or UID), or moved to another Service. ok is false if
// a slice that may have changed has no resourceVersion to compare. Both
// lists are sorted by namespace and name (Inputs.Sort), so they are walked
// side by side; a slice that is the same object in both (providers share
// unchanged objects) is not even read.
func changedServices(a, b []*discoveryv1.EndpointSlice) (map[string]bool, bool) {
	svc := func(es *discoveryv1.EndpointSlice) string {
		return es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
	}
	changed := map[string]bool{}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if i < len(a) && j < len(b) && a[i] == b[j] {
			i++
			j++
			continue
		}
		var c int
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = cmp.Or(cmp.Compare(a[i].Namespace, b[j].Namespace), cmp.Compare(a[i].Name, b[j].Name))
		}
		switch {
		case c < 0: // gone from b
			if a[i].ResourceVersion == "" {
				return nil, false
			}
			changed[svc(a[i])] = true
			i++
		case c > 0: // new in b
			if b[j].ResourceVersion == "" {
				return nil, false
			}
			changed[svc(b[j])] = true
			j++
		default:
			x, y := a[i], b[j]
			if x.ResourceVersion == "" || y.ResourceVersion == "" {
				return nil, false
			}
			if x.UID != y.UID || x.ResourceVersion != y.ResourceVersion || svc(x) != svc(y) {
				changed[svc(x)] = true
				changed[svc(y)] = true
			}
			i++
			j++
		}
	}
	return changed, true
}
