package pipeline_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
)

// versioned gives every object a UID and resourceVersion, as the API
// server (or the file provider) does.
func versioned(t *testing.T, shape workload.Shape, n int) []client.Object {
	t.Helper()
	objs, err := workload.Objects(shape, n)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		o.SetUID(types.UID(fmt.Sprintf("uid-%d", i)))
		o.SetResourceVersion("1")
	}
	return objs
}

func snapshotOf(t *testing.T, objs []client.Object) *translators.Inputs {
	t.Helper()
	return snapshotSharing(t, objs, false)
}

// snapshotSharing makes a snapshot of objs, sharing them (as the providers
// share unchanged objects between snapshots) or copies of them.
func snapshotSharing(t *testing.T, objs []client.Object, share bool) *translators.Inputs {
	t.Helper()
	in := &translators.Inputs{}
	for _, o := range objs {
		if !share {
			o = o.DeepCopyObject().(client.Object)
		}
		if err := in.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	in.Sort()
	return in
}

// editSlice changes one EndpointSlice at random: endpoints added, removed,
// made not ready, its port renamed (so it no longer serves the Service
// port), moved to another Service, or the slice deleted or added.
func editSlice(r *rand.Rand, objs []client.Object, version int) []client.Object {
	var slices []int
	for i, o := range objs {
		if _, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, i)
		}
	}
	idx := slices[r.IntN(len(slices))]
	es := objs[idx].DeepCopyObject().(*discoveryv1.EndpointSlice)
	es.ResourceVersion = fmt.Sprint(version)
	out := append(objs[:0:0], objs...)
	switch r.IntN(7) {
	case 0:
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.200.%d.%d", r.IntN(250), r.IntN(250))}})
	case 1:
		if len(es.Endpoints) > 0 {
			es.Endpoints = es.Endpoints[1:]
		}
	case 2:
		if len(es.Endpoints) > 0 {
			f := false
			es.Endpoints[0].Conditions.Ready = &f
		}
	case 3:
		if len(es.Ports) > 0 {
			name := "other"
			es.Ports[0].Name = &name
		}
	case 4:
		es.Labels = map[string]string{discoveryv1.LabelServiceName: workload.ServiceName(r.IntN(8))}
	case 5:
		return append(out[:idx], out[idx+1:]...)
	case 6:
		es.Name += fmt.Sprintf("-extra-%d", version)
		es.UID = types.UID(es.Name)
		es.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.201.0.%d", r.IntN(250))}}}
		return append(out, es)
	}
	out[idx] = es
	return out
}

func render(t *testing.T, out *pipeline.Output) []byte {
	t.Helper()
	y, err := out.Resources.RenderYAML(false)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestFastPathEqualsFullPath applies random EndpointSlice edits to a
// pipeline that has run before (so it takes the endpoint fast path) and
// checks that its resources, versions and statuses are those of a fresh
// pipeline translating the same snapshot in full, for every shape, with
// snapshots made of copies and of objects shared with the last snapshot.
func TestFastPathEqualsFullPath(t *testing.T) {
	type testCase struct {
		shape workload.Shape
		share bool
	}
	var cases []testCase
	for _, shape := range workload.Shapes {
		cases = append(cases, testCase{shape, false})
	}
	cases = append(cases, testCase{workload.Gateway, true}, testCase{workload.Mixed, true})
	for _, tc := range cases {
		shape := tc.shape
		snapshotOf := func(t *testing.T, objs []client.Object) *translators.Inputs {
			return snapshotSharing(t, objs, tc.share)
		}
		t.Run(fmt.Sprintf("%s/shared=%v", shape, tc.share), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(shape))))
			objs := versioned(t, shape, 8)
			p := benchPipeline()
			if _, err := p.Run(snapshotOf(t, objs)); err != nil {
				t.Fatal(err)
			}
			for edit := range 60 {
				objs = editSlice(r, objs, edit+2)
				fast, err := p.Run(snapshotOf(t, objs))
				if err != nil {
					t.Fatal(err)
				}
				if !fast.EndpointsOnly {
					t.Fatalf("edit %d: an EndpointSlice-only change took the full path", edit)
				}
				full, err := benchPipeline().Run(snapshotOf(t, objs))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := render(t, fast), render(t, full); !bytes.Equal(got, want) {
					t.Fatalf("edit %d: fast path resources differ from a full translation:\n--- fast\n%s\n--- full\n%s", edit, got, want)
				}
				fv, wv := fast.Resources.Versions(), full.Resources.Versions()
				if fmt.Sprint(*fv) != fmt.Sprint(*wv) {
					t.Fatalf("edit %d: versions differ:\nfast %v\nfull %v", edit, *fv, *wv)
				}
				if !reflect.DeepEqual(fast.Statuses, full.Statuses) {
					t.Fatalf("edit %d: statuses differ:\nfast %+v\nfull %+v", edit, fast.Statuses, full.Statuses)
				}
			}
		})
	}
}

// TestFastPathOnlyForEndpointSlices checks that any other change, or an
// object without a resourceVersion, takes the full path, and that the full
// path sees it.
func TestFastPathOnlyForEndpointSlices(t *testing.T) {
	objs := versioned(t, workload.Gateway, 4)
	p := benchPipeline()
	if _, err := p.Run(snapshotOf(t, objs)); err != nil {
		t.Fatal(err)
	}
	// A route's new hostname, under a new resourceVersion.
	edited := append(objs[:0:0], objs...)
	for i, o := range edited {
		if hr, ok := o.(*gatewayv1.HTTPRoute); ok {
			hr = hr.DeepCopy()
			hr.Spec.Hostnames = []gatewayv1.Hostname{"changed.example.com"}
			hr.ResourceVersion = "2"
			edited[i] = hr
			break
		}
	}
	out, err := p.Run(snapshotOf(t, edited))
	if err != nil {
		t.Fatal(err)
	}
	if out.EndpointsOnly {
		t.Fatal("an HTTPRoute change took the endpoint fast path")
	}
	if !bytes.Contains(render(t, out), []byte("changed.example.com")) {
		t.Fatal("the route change is not in the resources")
	}
	// The same snapshot again, nothing changed: the fast path, nothing rebuilt.
	again, err := p.Run(snapshotOf(t, edited))
	if err != nil {
		t.Fatal(err)
	}
	if !again.EndpointsOnly || !bytes.Equal(render(t, again), render(t, out)) {
		t.Fatal("an unchanged snapshot did not give the same resources on the fast path")
	}
	// Objects without versions can't be compared: always the full path.
	unversioned, err := workload.Objects(workload.Gateway, 4)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out, err := p.Run(snapshotOf(t, unversioned))
		if err != nil {
			t.Fatal(err)
		}
		if out.EndpointsOnly {
			t.Fatal("a snapshot without resourceVersions took the fast path")
		}
	}
}
