package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/translators"
)

// sharingReader answers Get as the informer cache does when asked not to
// deep-copy: a shallow copy of the stored object, sharing its maps and
// slices.
type sharingReader struct{ stored client.Object }

func (r sharingReader) Get(_ context.Context, key client.ObjectKey, out client.Object, opts ...client.GetOption) error {
	var o client.GetOptions
	o.ApplyOptions(opts)
	src := r.stored
	if o.UnsafeDisableDeepCopy == nil || !*o.UnsafeDisableDeepCopy {
		src = src.DeepCopyObject().(client.Object)
	}
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(src).Elem())
	return nil
}

func (sharingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	panic("not used")
}

// The status writer reads the cached object without copying it, yet writes
// the new status (the API server gets it) and leaves the cached object,
// shared with every snapshot, exactly as it was.
func TestStatusWriterLeavesCachedObjectsAlone(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := gatewayv1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	other := gatewayv1.RouteParentStatus{
		ParentRef: gatewayv1.ParentReference{Name: "theirs"}, ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}},
	}
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 2,
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "x"}},
		Spec:   gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{"web.example"}},
		Status: gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{other}}},
	}
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(route.DeepCopy()).
		WithStatusSubresource(&gatewayv1.HTTPRoute{}).Build()
	cached := route.DeepCopy()
	before := cached.DeepCopy()
	w := &StatusWriter{
		client: api, cached: sharingReader{cached}, owner: client.FieldOwner("test"),
		recorder: record.NewFakeRecorder(10), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		notify: make(chan struct{}, 1), events: map[translators.ObjectRef][]translators.Problem{},
	}
	ref := translators.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: "web"}
	mine := gatewayv1.RouteParentStatus{
		ParentRef: gatewayv1.ParentReference{Name: "bench"}, ControllerName: ours,
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2}},
	}
	w.Update([]*translators.ObjectStatus{{Object: ref, RouteParents: []gatewayv1.RouteParentStatus{mine}, RouteController: ours}})
	w.write(context.Background())

	if !reflect.DeepEqual(cached, before) {
		t.Errorf("the status writer changed the cached object:\nbefore %+v\nafter  %+v", before, cached)
	}
	got := &gatewayv1.HTTPRoute{}
	if err := api.Get(context.Background(), client.ObjectKeyFromObject(route), got); err != nil {
		t.Fatal(err)
	}
	if n := len(got.Status.Parents); n != 2 {
		t.Fatalf("API server holds %d status parents, want the other controller's and Legate's: %+v", n, got.Status.Parents)
	}
	if got.Status.Parents[0].ControllerName != other.ControllerName || got.Status.Parents[1].ControllerName != ours ||
		got.Status.Parents[1].ParentRef.Name != "bench" {
		t.Errorf("status parents written: %+v", got.Status.Parents)
	}
}

// The writer remembers what it found written, and skips an object whose
// status and resourceVersion are both what they were; but a status
// someone else overwrote (a new resourceVersion) is written again, and so
// is a new status for an unchanged object.
//
// With the informers' objects at hand (SetStored), a pass over an object
// whose status it confirmed does not even read it from the cache.
func TestStatusWriterRewritesWhatChangedSinceItLooked(t *testing.T) {
	for _, stored := range []bool{false, true} {
		t.Run(fmt.Sprintf("stored %v", stored), func(t *testing.T) { testStatusWriterRewrites(t, stored) })
	}
}

// countingReader counts Gets.
type countingReader struct {
	client.Reader
	gets *int
}

func (r countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	*r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}

func testStatusWriterRewrites(t *testing.T, stored bool) {
	scheme := runtime.NewScheme()
	if err := gatewayv1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1}}
	patches := 0
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(route).
		WithStatusSubresource(&gatewayv1.HTTPRoute{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			patches++
			return patchAsAPIServer(ctx, c, sub, obj, p, opts...)
		}}).Build()
	gets := 0
	w := &StatusWriter{
		client: api, cached: countingReader{api, &gets}, owner: client.FieldOwner("test"),
		recorder: record.NewFakeRecorder(10), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		notify: make(chan struct{}, 1), events: map[translators.ObjectRef][]translators.Problem{},
	}
	ref := translators.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: "web"}
	if stored {
		w.SetStored(func(r translators.ObjectRef) client.Object {
			o := &gatewayv1.HTTPRoute{}
			if r != ref || api.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, o) != nil {
				return nil
			}
			return o
		})
	}
	status := func(parent string) []*translators.ObjectStatus {
		return []*translators.ObjectStatus{{Object: ref, RouteController: ours, RouteParents: []gatewayv1.RouteParentStatus{{
			ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(parent)}, ControllerName: ours,
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1}},
		}}}}
	}
	parents := func() []string {
		got := &gatewayv1.HTTPRoute{}
		if err := api.Get(context.Background(), client.ObjectKeyFromObject(route), got); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range got.Status.Parents {
			out = append(out, string(p.ParentRef.Name))
		}
		return out
	}
	pass := func(st []*translators.ObjectStatus) {
		w.Update(st)
		w.write(context.Background())
	}

	pass(status("gw-a"))
	readsBefore := gets
	second := status("gw-a")
	pass(second)
	if patches != 1 || !reflect.DeepEqual(parents(), []string{"gw-a"}) {
		t.Fatalf("two passes of one status: %d patches, parents %v; want 1 patch, [gw-a]", patches, parents())
	}
	if stored && gets != readsBefore {
		t.Fatalf("a pass over a confirmed status read the object %d times", gets-readsBefore)
	}
	// The equal status of the second pass, in other arrays, is the one
	// kept: the next pass, whose snapshot shares its lists, compares
	// pointers rather than every field.
	if c := w.confirmed[ref]; c == nil || &c.status.RouteParents[0] != &second[0].RouteParents[0] {
		t.Errorf("the writer kept the status it wrote, not the equal one of the last pass")
	}
	// Someone else empties the status: the object's resourceVersion
	// moves, and the next pass writes Legate's entry back.
	clobbered := &gatewayv1.HTTPRoute{}
	if err := api.Get(context.Background(), client.ObjectKeyFromObject(route), clobbered); err != nil {
		t.Fatal(err)
	}
	clobbered.Status.Parents = nil
	if err := api.Status().Update(context.Background(), clobbered); err != nil {
		t.Fatal(err)
	}
	pass(status("gw-a"))
	if !reflect.DeepEqual(parents(), []string{"gw-a"}) {
		t.Fatalf("after someone emptied the status: parents %v, want [gw-a] written again", parents())
	}
	// A new status on the same version of the object is written.
	pass(status("gw-b"))
	if !reflect.DeepEqual(parents(), []string{"gw-b"}) {
		t.Fatalf("a new status: parents %v, want [gw-b]", parents())
	}
}

// sameStatus tells apart two statuses that differ in any one field of
// ObjectStatus (a field added later must be added to it too), and holds
// equal ones with lists in different arrays the same.
func TestSameStatusComparesEveryField(t *testing.T) {
	typ := reflect.TypeFor[translators.ObjectStatus]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var a, b translators.ObjectStatus
		v := reflect.ValueOf(&b).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int64:
			v.SetInt(1)
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Struct:
			v.Field(0).SetString("x")
		default:
			t.Fatalf("field %s of kind %s: teach this test (and sameStatus) about it", f.Name, f.Type.Kind())
		}
		// A copy, so that the comparisons look at the fields, not
		// at the entry.
		b2 := b
		if sameStatus(&a, &b) || sameStatus(&b, &a) {
			t.Errorf("statuses differing in %s are the same to sameStatus", f.Name)
		}
		if !sameStatus(&b, &b2) {
			t.Errorf("a status differing only in %s is not the same as a copy of itself", f.Name)
		}
		if identicalStatus(&a, &b) || identicalStatus(&b, &a) || !identicalStatus(&b, &b2) {
			t.Errorf("identicalStatus does not tell apart statuses differing in %s", f.Name)
		}
	}
	parents := func() []gatewayv1.RouteParentStatus {
		return []gatewayv1.RouteParentStatus{{ParentRef: gatewayv1.ParentReference{Name: "gw"}, ControllerName: "c"}}
	}
	x := translators.ObjectStatus{Object: translators.ObjectRef{Kind: "HTTPRoute", Name: "r"}, RouteParents: parents()}
	y := translators.ObjectStatus{Object: translators.ObjectRef{Kind: "HTTPRoute", Name: "r"}, RouteParents: parents()}
	if !sameStatus(&x, &y) {
		t.Error("equal statuses with their lists in different arrays are not the same")
	}
	if identicalStatus(&x, &y) {
		t.Error("statuses with their lists in different arrays are identical")
	}
	y.RouteParents[0].ParentRef.Name = "other"
	if sameStatus(&x, &y) {
		t.Error("statuses whose parents differ are the same")
	}
	if sameStatus(&translators.ObjectStatus{RouteParents: nil}, &translators.ObjectStatus{RouteParents: []gatewayv1.RouteParentStatus{}}) {
		t.Error("no parents and an empty list of parents (remove Legate's entries) are the same")
	}
}

// A burst of snapshots is written in one pass, with the newest statuses,
// once the burst is over.
func TestStatusWriterWritesABurstOnce(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := gatewayv1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1}}
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(route).WithStatusSubresource(&gatewayv1.HTTPRoute{}).Build()
	w := &StatusWriter{
		client: api, cached: api, owner: client.FieldOwner("test"),
		recorder: record.NewFakeRecorder(10), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		notify: make(chan struct{}, 1), events: map[translators.ObjectRef][]translators.Problem{},
	}
	ref := translators.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: "web"}
	status := func(parent string) []*translators.ObjectStatus {
		return []*translators.ObjectStatus{{Object: ref, RouteController: ours, RouteParents: []gatewayv1.RouteParentStatus{{
			ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(parent)}, ControllerName: ours,
		}}}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // the pass over nothing at start
	for i := range 10 {
		w.Update(status(fmt.Sprintf("gw-%d", i)))
		time.Sleep(writeQuiet / 5)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := &gatewayv1.HTTPRoute{}
		if err := api.Get(context.Background(), client.ObjectKeyFromObject(route), got); err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Parents) == 1 && got.Status.Parents[0].ParentRef.Name == "gw-9" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last status of the burst was not written: %+v", got.Status.Parents)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	// The pass at start, and one for the burst (two if the burst took
	// longer than writeMaxWait on a loaded machine).
	if w.pass > 3 {
		t.Fatalf("%d passes for one burst of 10 snapshots", w.pass)
	}
}

// A pass finds the records of the last one by position when the objects
// are the same, in the same order, and by object otherwise; records of
// objects no longer listed are forgotten; and none of it writes or reads
// anything more than a pass that looked every record up by object.
func TestStatusWriterFindsItsRecordsAsObjectsComeAndGo(t *testing.T) {
	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	names := []string{"a", "b", "c", "d"}
	gets := 0
	w, api, patches := routeStatusWriter(t, names, func(api client.Client) client.Reader { return countingReader{api, &gets} })
	w.SetStored(func(r translators.ObjectRef) client.Object {
		o := &gatewayv1.HTTPRoute{}
		if api.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, o) != nil {
			return nil
		}
		return o
	})
	// statuses lists the named routes, each accepted by gw-<name>, in new
	// arrays every time (as a snapshot after an edit elsewhere would).
	parentOf := map[string]string{}
	statuses := func(routes ...string) []*translators.ObjectStatus {
		var out []*translators.ObjectStatus
		for _, n := range routes {
			parent := "gw-" + n
			if p, ok := parentOf[n]; ok {
				parent = p
			}
			out = append(out, &translators.ObjectStatus{
				Object:          translators.ObjectRef{Kind: "HTTPRoute", Namespace: "default", Name: n},
				RouteController: ours,
				RouteParents: []gatewayv1.RouteParentStatus{{
					ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(parent)}, ControllerName: ours,
					Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1}},
				}},
			})
		}
		return out
	}
	pass := func(what string, routes []string, wantPatches, wantGets, wantRecords int) {
		t.Helper()
		patches.n, gets = 0, 0
		w.Update(statuses(routes...))
		w.write(context.Background())
		if patches.n != wantPatches || gets != wantGets || len(w.confirmed) != wantRecords {
			t.Errorf("%s: %d patches, %d reads, %d records; want %d, %d, %d",
				what, patches.n, gets, len(w.confirmed), wantPatches, wantGets, wantRecords)
		}
	}
	pass("first pass", names, 4, 4, 4)
	pass("same objects, same order", names, 0, 0, 4)
	pass("b gone", []string{"a", "c", "d"}, 0, 0, 3)
	pass("b back, d first", []string{"d", "a", "b", "c"}, 0, 1, 4)
	pass("same again", []string{"d", "a", "b", "c"}, 0, 0, 4)
	parentOf["a"] = "gw-x"
	pass("a new status for a", []string{"d", "a", "b", "c"}, 1, 1, 4)

	// Someone else empties c's status: found by position, its version
	// moved, and it is written again.
	clobberStatus(t, api, "c")
	pass("c emptied by someone else", []string{"d", "a", "b", "c"}, 1, 1, 4)
	pass("all gone", nil, 0, 0, 0)
}

// With SetTouched, a pass looks only at the objects someone touched since
// and at those whose status is not, lists and all, the one it confirmed;
// the others cost it no lookup at all.
func TestStatusWriterLooksOnlyAtTouchedObjects(t *testing.T) {
	const ours = gatewayv1.GatewayController("legate.dev/gateway-controller")
	w, api, patches := routeStatusWriter(t, []string{"a", "b", "c"}, func(api client.Client) client.Reader { return api })
	looked := map[string]int{}
	w.SetStored(func(r translators.ObjectRef) client.Object {
		looked[r.Name]++
		o := &gatewayv1.HTTPRoute{}
		if api.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, o) != nil {
			return nil
		}
		return o
	})
	// What the provider would say: the objects touched since the last
	// call, or all of them.
	var touched []translators.ObjectRef
	touchedAll := true
	w.SetTouched(func() ([]translators.ObjectRef, bool) {
		refs, all := touched, touchedAll
		touched, touchedAll = nil, false
		return refs, all
	})
	entry := func(n, parent string) *translators.ObjectStatus {
		return &translators.ObjectStatus{
			Object:          translators.ObjectRef{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "default", Name: n},
			RouteController: ours,
			RouteParents: []gatewayv1.RouteParentStatus{{
				ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(parent)}, ControllerName: ours,
				Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1}},
			}},
		}
	}
	// One list, its entries shared from pass to pass, as the
	// translators hand out an unchanged object's status.
	list := []*translators.ObjectStatus{entry("a", "gw"), entry("b", "gw"), entry("c", "gw")}
	passCtx := func(ctx context.Context, what string, wantPatches int, wantLooked map[string]int) {
		t.Helper()
		patches.n, looked = 0, map[string]int{}
		w.Update(slices.Clone(list))
		w.write(ctx)
		if patches.n != wantPatches || !maps.Equal(looked, wantLooked) {
			t.Errorf("%s: %d patches, looked at %v; want %d, %v", what, patches.n, looked, wantPatches, wantLooked)
		}
	}
	pass := func(what string, wantPatches int, wantLooked map[string]int) {
		t.Helper()
		passCtx(context.Background(), what, wantPatches, wantLooked)
	}
	pass("first pass", 3, map[string]int{})
	pass("nothing touched", 0, map[string]int{})

	// Someone else empties b's status; the provider saw it.
	clobberStatus(t, api, "b")
	touched = []translators.ObjectRef{{Kind: "HTTPRoute", Namespace: "default", Name: "b"}}
	pass("b touched", 1, map[string]int{"b": 1})
	if n := len(routeParents(t, api, "b")); n != 1 {
		t.Fatalf("b's status after the pass has %d parents; want Legate's entry back", n)
	}

	// A new status for a (new lists): a is looked at and written.
	list[0] = entry("a", "gw-2")
	pass("a's status changed", 1, map[string]int{"a": 1})

	// Too many touched to list: everything is looked at.
	touchedAll = true
	pass("all touched", 0, map[string]int{"a": 1, "b": 1, "c": 1})

	// Someone else empties c's status, and the write putting Legate's
	// entry back fails: the next pass tries again, though nobody touched
	// c since and its status is the very one confirmed before.
	clobberStatus(t, api, "c")
	touched = []translators.ObjectRef{{Kind: "HTTPRoute", Namespace: "default", Name: "c"}}
	patches.fail = 1
	pass("c touched, its write fails", 1, map[string]int{"c": 1})
	pass("c tried again", 1, map[string]int{})
	if n := len(routeParents(t, api, "c")); n != 1 {
		t.Fatalf("c's status after the retry has %d parents; want Legate's entry back", n)
	}

	// A pass that stops half way (its context ended) has taken the
	// touched objects it did not reach: the next looks at every object.
	touched = []translators.ObjectRef{{Kind: "HTTPRoute", Namespace: "default", Name: "a"}}
	stopped, stop := context.WithCancel(context.Background())
	stop()
	passCtx(stopped, "a pass that stops at once", 0, map[string]int{})
	pass("after it", 0, map[string]int{"a": 1, "b": 1, "c": 1})
	pass("and then", 0, map[string]int{})
}

// patchCounter counts the status patches a fake API server was sent, and
// fails the next fail of them.
type patchCounter struct{ n, fail int }

// routeStatusWriter makes a status writer over a fake API server holding
// HTTPRoutes of the given names (namespace default), which reads through
// cached(api), and counts the status patches it sends.
func routeStatusWriter(t *testing.T, names []string, cached func(client.Client) client.Reader) (*StatusWriter, client.Client, *patchCounter) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := gatewayv1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for _, n := range names {
		objs = append(objs, &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "default", Generation: 1}})
	}
	patches := &patchCounter{}
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&gatewayv1.HTTPRoute{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			patches.n++
			if patches.fail > 0 {
				patches.fail--
				return errors.New("the API server is busy")
			}
			return patchAsAPIServer(ctx, c, sub, obj, p, opts...)
		}}).Build()
	w := &StatusWriter{
		client: api, cached: cached(api), owner: client.FieldOwner("test"),
		recorder: record.NewFakeRecorder(10), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		notify: make(chan struct{}, 1), events: map[translators.ObjectRef][]translators.Problem{},
	}
	return w, api, patches
}

// patchAsAPIServer patches a subresource of obj with c, a fake client,
// answering as the API server does a request for metadata alone: the fake
// patches a *metav1.PartialObjectMetadata's object but fills in none of
// its metadata, which the writer records (resourceVersion) and announces
// (UID). So the patch goes to an HTTPRoute, whose metadata is then the
// answer.
func patchAsAPIServer(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	pm, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return c.SubResource(sub).Patch(ctx, obj, p, opts...)
	}
	if gvk := pm.GroupVersionKind(); gvk.Kind != "HTTPRoute" {
		return fmt.Errorf("patchAsAPIServer patches HTTPRoutes, not %s", gvk.Kind)
	}
	// Without the writer's options: the fake decodes its answer into a
	// SubResourceBody, the API server never does.
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: pm.Namespace, Name: pm.Name}}
	if err := c.SubResource(sub).Patch(ctx, route, p); err != nil {
		return err
	}
	pm.ObjectMeta = route.ObjectMeta
	return nil
}

// clobberStatus empties the status of HTTPRoute default/name, as another
// client would: its resourceVersion moves.
func clobberStatus(t *testing.T, api client.Client, name string) {
	t.Helper()
	r := &gatewayv1.HTTPRoute{}
	if err := api.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, r); err != nil {
		t.Fatal(err)
	}
	r.Status.Parents = nil
	if err := api.Status().Update(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// routeParents is what the API server holds in HTTPRoute default/name's
// status.parents.
func routeParents(t *testing.T, api client.Client, name string) []gatewayv1.RouteParentStatus {
	t.Helper()
	r := &gatewayv1.HTTPRoute{}
	if err := api.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r.Status.Parents
}
