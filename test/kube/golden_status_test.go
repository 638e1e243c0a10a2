package kube

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/gatewayapi"
)

// goldenDir holds the Gateway API translator's golden cases.
var goldenDir = filepath.Join("..", "..", "gatewayapi", "testdata")

// goldenCase is one gatewayapi golden case: its input objects, in the
// order of their creation timestamps, and the Gateway API status the
// translator computed for them.
type goldenCase struct {
	name    string
	objects []*unstructured.Unstructured
	want    gatewayapi.Status
}

func loadGoldenCase(in string) (goldenCase, error) {
	c := goldenCase{name: strings.TrimSuffix(filepath.Base(in), ".in.yaml")}
	data, err := os.ReadFile(in)
	if err != nil {
		return c, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c, fmt.Errorf("%s: %w", in, err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return c, fmt.Errorf("%s: %w", in, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		c.objects = append(c.objects, u)
	}
	// Older objects win conflicts: create them in the order the case says
	// they were created.
	sort.SliceStable(c.objects, func(i, j int) bool {
		ti, tj := c.objects[i].GetCreationTimestamp(), c.objects[j].GetCreationTimestamp()
		return ti.Before(&tj)
	})
	out, err := os.ReadFile(strings.TrimSuffix(in, ".in.yaml") + ".out.yaml")
	if err != nil {
		return c, err
	}
	var golden struct {
		GatewayStatus *gatewayapi.Status `json:"gatewayStatus"`
	}
	if err := yaml.Unmarshal(out, &golden); err != nil {
		return c, fmt.Errorf("%s: %w", in, err)
	}
	if golden.GatewayStatus != nil {
		c.want = *golden.GatewayStatus
	}
	return c, nil
}

// observed is what a status holds once its transition times are cleared
// and its observed generations are checked against the object's and
// cleared: the part a golden file can state.
type observed struct {
	Object string `json:"object"`
	Status any    `json:"status"`
}

// normalizeConditions clears what the golden files cannot know: the
// transition time, and the observed generation (checked to be the object's
// own first). A golden condition carries the generation of its input, which
// the API server does not keep.
func normalizeConditions(conds []metav1.Condition, generation int64, where string, problems *[]string) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(conds))
	for _, c := range conds {
		if generation >= 0 && c.ObservedGeneration != generation {
			*problems = append(*problems, fmt.Sprintf("%s condition %s: observedGeneration %d, object generation %d", where, c.Type, c.ObservedGeneration, generation))
		}
		c.ObservedGeneration = 0
		c.LastTransitionTime = metav1.Time{}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// expected turns a golden status into the normalized form of every object
// it names. Generations are not checked on the golden side (-1).
func (c goldenCase) expected() []observed {
	var out []observed
	var ignore []string
	for _, gc := range c.want.GatewayClasses {
		st := gc.Status
		st.Conditions = normalizeConditions(st.Conditions, -1, "", &ignore)
		out = append(out, observed{Object: "GatewayClass/" + gc.Name, Status: st})
	}
	for _, g := range c.want.Gateways {
		out = append(out, observed{Object: "Gateway/" + g.Namespace + "/" + g.Name, Status: normalizeGateway(g.Status, -1, &ignore)})
	}
	for kind, routes := range c.routeStatuses() {
		for _, r := range routes {
			out = append(out, observed{Object: kind + "/" + r.Namespace + "/" + r.Name, Status: normalizeParents(r.Parents, -1, &ignore)})
		}
	}
	slices.SortFunc(out, func(a, b observed) int { return strings.Compare(a.Object, b.Object) })
	return out
}

func (c goldenCase) routeStatuses() map[string][]gatewayapi.RouteStatus {
	return map[string][]gatewayapi.RouteStatus{
		"HTTPRoute": c.want.HTTPRoutes, "GRPCRoute": c.want.GRPCRoutes, "TLSRoute": c.want.TLSRoutes,
		"TCPRoute": c.want.TCPRoutes, "UDPRoute": c.want.UDPRoutes,
	}
}

func normalizeGateway(st gatewayv1.GatewayStatus, generation int64, problems *[]string) gatewayv1.GatewayStatus {
	st.Conditions = normalizeConditions(st.Conditions, generation, "gateway", problems)
	ls := slices.Clone(st.Listeners)
	for i := range ls {
		ls[i].Conditions = normalizeConditions(ls[i].Conditions, generation, "listener "+string(ls[i].Name), problems)
	}
	slices.SortFunc(ls, func(a, b gatewayv1.ListenerStatus) int { return strings.Compare(string(a.Name), string(b.Name)) })
	st.Listeners = ls
	return st
}

// normalizeParents keeps Legate's entries only (other controllers' entries
// are not in the golden files) in a stable order.
func normalizeParents(parents []gatewayv1.RouteParentStatus, generation int64, problems *[]string) []gatewayv1.RouteParentStatus {
	out := []gatewayv1.RouteParentStatus{}
	for _, p := range parents {
		if p.ControllerName != "legate.dev/gateway-controller" {
			continue
		}
		// The API server defaults a parentRef's group and kind in the
		// route's spec, and the status echoes the spec's parentRef.
		if p.ParentRef.Group == nil {
			p.ParentRef.Group = ptrTo(gatewayv1.Group(gatewayv1.GroupName))
		}
		if p.ParentRef.Kind == nil {
			p.ParentRef.Kind = ptrTo(gatewayv1.Kind("Gateway"))
		}
		p.Conditions = normalizeConditions(p.Conditions, generation, "parent "+parentKey(p.ParentRef), problems)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b gatewayv1.RouteParentStatus) int {
		return strings.Compare(parentKey(a.ParentRef), parentKey(b.ParentRef))
	})
	return out
}

func parentKey(p gatewayv1.ParentReference) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// written reads the status the API server holds for every object the
// golden status names.
func (c goldenCase) written(ctx context.Context) ([]observed, []string) {
	var out []observed
	var problems []string
	get := func(gvk schema.GroupVersionKind, ns, name string, st any) int64 {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			problems = append(problems, fmt.Sprintf("%s %s/%s: %v", gvk.Kind, ns, name, err))
			return 0
		}
		b, err := json.Marshal(u.Object["status"])
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, st)).To(Succeed())
		return u.GetGeneration()
	}
	gv := schema.GroupVersion{Group: gatewayv1.GroupVersion.Group, Version: gatewayv1.GroupVersion.Version}
	for _, gc := range c.want.GatewayClasses {
		var st gatewayv1.GatewayClassStatus
		gen := get(gv.WithKind("GatewayClass"), "", gc.Name, &st)
		st.Conditions = normalizeConditions(st.Conditions, gen, "GatewayClass/"+gc.Name, &problems)
		out = append(out, observed{Object: "GatewayClass/" + gc.Name, Status: st})
	}
	for _, g := range c.want.Gateways {
		var st gatewayv1.GatewayStatus
		gen := get(gv.WithKind("Gateway"), g.Namespace, g.Name, &st)
		out = append(out, observed{Object: "Gateway/" + g.Namespace + "/" + g.Name, Status: normalizeGateway(st, gen, &problems)})
	}
	for kind, routes := range c.routeStatuses() {
		for _, r := range routes {
			var st gatewayv1.RouteStatus
			gen := get(c.gvkOf(kind, r.Namespace, r.Name), r.Namespace, r.Name, &st)
			out = append(out, observed{Object: kind + "/" + r.Namespace + "/" + r.Name, Status: normalizeParents(st.Parents, gen, &problems)})
		}
	}
	slices.SortFunc(out, func(a, b observed) int { return strings.Compare(a.Object, b.Object) })
	return out, problems
}

// gvkOf is the group, version and kind the case's input used for an
// object (route kinds exist in more than one version).
func (c goldenCase) gvkOf(kind, ns, name string) schema.GroupVersionKind {
	for _, u := range c.objects {
		if u.GetKind() == kind && u.GetNamespace() == ns && u.GetName() == name {
			return u.GroupVersionKind()
		}
	}
	return schema.GroupVersionKind{Group: gatewayv1.GroupVersion.Group, Version: gatewayv1.GroupVersion.Version, Kind: kind}
}

// apply creates the case's objects (Namespaces are created or relabelled,
// never deleted: envtest has no namespace controller to finish a delete).
// An input status (another controller's route parents) is written through
// the status subresource. Objects whose input creation times differ are
// created at least a second apart, so the API server's timestamps keep
// their order. It returns what it created, for deletion.
func (c goldenCase) apply(ctx context.Context) ([]*unstructured.Unstructured, error) {
	var created []*unstructured.Unstructured
	var last *metav1.Time
	for _, in := range c.objects {
		u := in.DeepCopy()
		if u.GetKind() == "Namespace" {
			if err := upsertNamespace(ctx, u); err != nil {
				return created, err
			}
			continue
		}
		ts := u.GetCreationTimestamp()
		if last != nil && !ts.IsZero() && !ts.Equal(last) {
			time.Sleep(1100 * time.Millisecond)
		}
		last = &ts
		status, hasStatus := u.Object["status"]
		for _, f := range []string{"status", "generation", "resourceVersion", "uid"} {
			unstructured.RemoveNestedField(u.Object, f)
			unstructured.RemoveNestedField(u.Object, "metadata", f)
		}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if err := k8s.Create(ctx, u); err != nil {
			return created, fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		created = append(created, u)
		if hasStatus {
			u.Object["status"] = status
			if err := k8s.Status().Update(ctx, u); err != nil {
				return created, fmt.Errorf("writing the input status of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			// Legate does not translate again for a change of status
			// alone (its own status writes are such changes), so the
			// snapshot taken after the create may not hold the input
			// status. In a cluster the status was written before a
			// change that Legate does translate: make one.
			base := u.DeepCopy()
			ann := u.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann["legate.test/input-status"] = "written"
			u.SetAnnotations(ann)
			if err := k8s.Patch(ctx, u, client.MergeFrom(base)); err != nil {
				return created, fmt.Errorf("marking the input status of %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
		}
	}
	return created, nil
}

func upsertNamespace(ctx context.Context, u *unstructured.Unstructured) error {
	ns := &corev1.Namespace{}
	err := k8s.Get(ctx, client.ObjectKey{Name: u.GetName()}, ns)
	if apierrors.IsNotFound(err) {
		return k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.GetName(), Labels: u.GetLabels()}})
	}
	if err != nil {
		return err
	}
	ns.Labels = u.GetLabels()
	return k8s.Update(ctx, ns)
}

// namespacesOf lists the namespaces a case uses, so they exist before
// legate starts watching them.
func namespacesOf(cases []goldenCase) []string {
	set := map[string]bool{}
	for _, c := range cases {
		for _, u := range c.objects {
			if u.GetKind() == "Namespace" {
				set[u.GetName()] = true
			} else if ns := u.GetNamespace(); ns != "" {
				set[ns] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

var _ = Describe("Gateway API status on the API server", func() {
	It("equals the golden status of every gatewayapi golden case the API server accepts", func(ctx SpecContext) {
		ins, err := filepath.Glob(filepath.Join(goldenDir, "*.in.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var cases []goldenCase
		for _, in := range ins {
			data, err := os.ReadFile(in)
			Expect(err).NotTo(HaveOccurred())
			// Cases with their own translator settings need a legate of
			// their own; they are checked by the golden test alone.
			if bytes.Contains(data, []byte("# settings:")) {
				continue
			}
			c, err := loadGoldenCase(in)
			Expect(err).NotTo(HaveOccurred())
			if len(c.want.Gateways)+len(c.want.GatewayClasses) == 0 {
				continue
			}
			cases = append(cases, c)
		}
		Expect(len(cases)).To(BeNumerically(">=", 30), "too few golden cases to compare")

		leaseNS := newNamespace(ctx, "golden")
		for _, ns := range namespacesOf(cases) {
			Expect(upsertNamespace(ctx, &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": ns}}})).To(Succeed())
		}
		args := []string{"--status-address", "gw.example.net"}
		for _, ns := range namespacesOf(cases) {
			args = append(args, "--watch-namespaces", ns)
		}
		p := startLegate(legateOptions{name: "golden", namespace: leaseNS, args: args})
		p.WaitReady()

		var compared, refused []string
		for _, c := range cases {
			By("case " + c.name)
			created, err := c.apply(ctx)
			cleanup := func() {
				for _, u := range slices.Backward(created) {
					_ = k8s.Delete(context.Background(), u)
				}
				// The next case starts from nothing: wait until every
				// object is gone from the API server.
				for _, u := range created {
					Eventually(func() bool {
						err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), u.DeepCopy())
						return apierrors.IsNotFound(err)
					}).WithTimeout(20 * time.Second).Should(BeTrue())
				}
			}
			if err != nil {
				if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
					// The API server's schema refuses the input, so no
					// cluster can hold it: counted and listed, not hidden.
					refused = append(refused, fmt.Sprintf("%s: %v", c.name, err))
					cleanup()
					continue
				}
				Expect(err).NotTo(HaveOccurred(), c.name)
			}
			want := c.expected()
			var got []observed
			var problems []string
			Eventually(func(g Gomega) {
				got, problems = c.written(ctx)
				g.Expect(problems).To(BeEmpty())
				if d := cmp.Diff(toJSON(want), toJSON(got)); d != "" {
					g.Expect(d).To(BeEmpty(), "status differs from the golden file (-golden +API server)")
				}
			}).WithTimeout(30*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(), "case %s", c.name)
			compared = append(compared, c.name)
			cleanup()
		}
		AddReportEntry("golden cases compared", len(compared))
		AddReportEntry("golden cases the API server refuses", strings.Join(refused, "\n"))
		fmt.Fprintf(GinkgoWriter, "compared %d golden cases with the status on the API server; the API server refused %d inputs:\n  %s\n",
			len(compared), len(refused), strings.Join(refused, "\n  "))
		Expect(len(compared)).To(BeNumerically(">=", 30))
	}, SpecTimeout(10*time.Minute))
})

func toJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}
