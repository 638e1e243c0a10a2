package ingress_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/internal/golden"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.out.yaml files")

// decoder decodes the kinds the translator declares.
var decoder = golden.Decoder(ingress.New().AddToScheme)

// decodeObjects reads multi-document YAML into objects.
func decodeObjects(data []byte) ([]client.Object, error) {
	return golden.DecodeObjects(decoder, data)
}

func inputsOf(objs []client.Object) (*translators.Inputs, error) {
	in := &translators.Inputs{}
	for _, o := range objs {
		if err := in.Add(o); err != nil {
			return nil, err
		}
	}
	in.Sort()
	return in, nil
}

func testSettings() translators.Settings {
	s := translators.DefaultSettings()
	s.StatusAddresses = []string{"192.0.2.10"}
	return s
}

// golden is what a .out.yaml holds: the merged IR the registry produces
// and the statuses.
type goldenOutput struct {
	IR       *ir.Config                  `json:"ir"`
	Statuses []*translators.ObjectStatus `json:"statuses"`
}

// translateAll runs the translator alone and through the registry, and
// fails t if either output does not validate.
func translateAll(t testing.TB, in *translators.Inputs) goldenOutput {
	t.Helper()
	frag, _ := ingress.New().Translate(in, testSettings())
	for _, e := range frag.Validate() {
		t.Errorf("fragment does not validate: %v", e)
	}
	res := translators.NewRegistry(ingress.New()).Translate(in, testSettings())
	for _, e := range res.IR.Validate() {
		t.Errorf("registry result does not validate: %v", e)
	}
	return goldenOutput{IR: res.IR, Statuses: res.Statuses}
}

func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) < 22 {
		t.Fatalf("found %d golden cases, want at least 22", len(ins))
	}
	for _, inPath := range ins {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeObjects(data)
			if err != nil {
				t.Fatal(err)
			}
			in, err := inputsOf(objs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := yaml.Marshal(translateAll(t, in))
			if err != nil {
				t.Fatal(err)
			}
			// Translating the same inputs again gives the same bytes.
			again, err := yaml.Marshal(translateAll(t, in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Errorf("two translations of the same inputs differ:\n%s\n---\n%s", got, again)
			}
			golden.Check(t, filepath.Join("testdata", name+".out.yaml"), got, *update)
		})
	}
}

func TestWildcardAuthorityRegex(t *testing.T) {
	re := ingress.WildcardAuthorityRegex("*.foo.com")
	if err := ir.ValidateRegex(re); err != nil {
		t.Fatal(err)
	}
	rx := mustCompileFull(t, re)
	for host, want := range map[string]bool{
		"bar.foo.com":        true,
		"bar.foo.com:8080":   true,
		"BAR.Foo.COM":        true,
		"a-b.foo.com:1":      true,
		"a.bar.foo.com":      false,
		"a.bar.foo.com:8080": false,
		"foo.com":            false,
		".foo.com":           false,
		"barfoo.com":         false,
		"bar.foo.com:":       false,
		"bar.foo.com:http":   false,
		"bar.foo.com.evil":   false,
		"bar.fooXcom":        false,
	} {
		if got := rx(host); got != want {
			t.Errorf("%q matches %q = %v, want %v", re, host, got, want)
		}
	}
}

func TestPathMatchFor(t *testing.T) {
	pt := func(s string) *networkingv1.PathType { p := networkingv1.PathType(s); return &p }
	tests := []struct {
		path    string
		typ     *networkingv1.PathType
		want    ir.PathMatch
		wantErr bool
	}{
		{"/foo", pt("Prefix"), ir.PathMatch{Type: ir.PathSegmentPrefix, Value: "/foo"}, false},
		{"/foo/", pt("Prefix"), ir.PathMatch{Type: ir.PathSegmentPrefix, Value: "/foo"}, false},
		{"/foo/bar/", pt("Prefix"), ir.PathMatch{Type: ir.PathSegmentPrefix, Value: "/foo/bar"}, false},
		{"/", pt("Prefix"), ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, false},
		{"/foo/", pt("Exact"), ir.PathMatch{Type: ir.PathExact, Value: "/foo/"}, false},
		{"/foo", pt("ImplementationSpecific"), ir.PathMatch{Type: ir.PathPrefix, Value: "/foo"}, false},
		{"", pt("ImplementationSpecific"), ir.PathMatch{Type: ir.PathPrefix, Value: "/"}, false},
		{"", pt("Prefix"), ir.PathMatch{}, true},
		{"foo", pt("Prefix"), ir.PathMatch{}, true},
		{"foo", pt("ImplementationSpecific"), ir.PathMatch{}, true},
		{"/a//b", pt("Prefix"), ir.PathMatch{}, true},
		{"/a/%2Fb", pt("Exact"), ir.PathMatch{}, true},
		{"/a/.", pt("Exact"), ir.PathMatch{}, true},
		{"/foo", pt("Regex"), ir.PathMatch{}, true},
		{"/foo", nil, ir.PathMatch{}, true},
	}
	for _, tc := range tests {
		got, err := ingress.PathMatchFor(tc.path, tc.typ)
		if (err != nil) != tc.wantErr {
			t.Errorf("PathMatchFor(%q, %v) error = %v, want error %v", tc.path, ptrStr(tc.typ), err, tc.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PathMatchFor(%q, %v) = %+v, want %+v", tc.path, ptrStr(tc.typ), got, tc.want)
		}
	}
}

func ptrStr(p *networkingv1.PathType) string {
	if p == nil {
		return "<nil>"
	}
	return string(*p)
}

func TestVirtualHostName(t *testing.T) {
	for host, want := range map[string]string{
		"":                "*",
		"foo.example.com": "foo.example.com",
		"*.example.com":   "*.example.com",
		"Foo.example.com": "",
		"*":               "",
		"a.*.example.com": "",
		"10.0.0.1":        "",
		"::1":             "",
		"foo_bar.com":     "",
		"foo.com:80":      "",
	} {
		got, err := ingress.VirtualHostName(host)
		if want == "" {
			if err == nil {
				t.Errorf("VirtualHostName(%q) = %q, want an error", host, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("VirtualHostName(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
}

func TestSelect(t *testing.T) {
	const ctrl = "legate.dev/ingress-controller"
	class := func(name, controller string, isDefault bool) *networkingv1.IngressClass {
		c := &networkingv1.IngressClass{}
		c.Name, c.Spec.Controller = name, controller
		if isDefault {
			c.Annotations = map[string]string{ingress.AnnotationDefaultClass: "true"}
		}
		return c
	}
	ing := func(name string, className *string, annotation string) *networkingv1.Ingress {
		i := &networkingv1.Ingress{}
		i.Namespace, i.Name = "default", name
		i.Spec.IngressClassName = className
		if annotation != "" {
			i.Annotations = map[string]string{ingress.AnnotationIngressClass: annotation}
		}
		return i
	}
	str := func(s string) *string { return &s }
	ingresses := []*networkingv1.Ingress{
		ing("by-name", str("mine"), ""),
		ing("other-name", str("theirs"), ""),
		ing("unknown-name", str("nope"), ""),
		ing("name-over-annotation", str("theirs"), "mine"),
		ing("by-annotation", nil, "mine"),
		ing("by-literal", nil, "legate"),
		ing("other-annotation", nil, "theirs"),
		ing("no-class", nil, ""),
	}
	names := func(list []*networkingv1.Ingress) []string {
		var out []string
		for _, i := range list {
			out = append(out, i.Name)
		}
		return out
	}

	noDefault := []*networkingv1.IngressClass{class("mine", ctrl, false), class("theirs", "other.dev/ctrl", true)}
	got := names(ingress.Select(noDefault, ingresses, ctrl))
	want := []string{"by-annotation", "by-literal", "by-name"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("without a default Legate class: got %v, want %v", got, want)
	}

	withDefault := []*networkingv1.IngressClass{class("mine", ctrl, true), class("theirs", "other.dev/ctrl", false)}
	got = names(ingress.Select(withDefault, ingresses, ctrl))
	want = []string{"by-annotation", "by-literal", "by-name", "no-class"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with a default Legate class: got %v, want %v", got, want)
	}

	// With no controller configured Legate owns no class, not every class
	// with an empty controller.
	got = names(ingress.Select([]*networkingv1.IngressClass{class("blank", "", true)}, ingresses, ""))
	want = []string{"by-literal"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with no controller: got %v, want %v", got, want)
	}
}

func TestEndpointsReadiness(t *testing.T) {
	data, err := os.ReadFile("testdata/multiple-endpointslices.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	in, err := inputsOf(objs)
	if err != nil {
		t.Fatal(err)
	}
	got := translators.ServiceEndpoints(in.EndpointSlicesFor("default", "web"), "http")
	want := []ir.Endpoint{
		{Address: "10.0.0.1", Port: 8080, Ready: true}, // listed twice, once not ready
		{Address: "10.0.0.2", Port: 8080, Ready: true},
		{Address: "10.0.0.5", Port: 8080, Ready: true},
		{Address: "10.0.0.9", Port: 8081, Ready: true},
		{Address: "fd00::1", Port: 8080, Ready: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Endpoints = %+v\nwant %+v", got, want)
	}
}

// mustCompileFull compiles re as Envoy's safe_regex uses it on headers: the
// whole value must match.
func mustCompileFull(t *testing.T, re string) func(string) bool {
	t.Helper()
	rx, err := regexp.Compile(`^(?:` + re + `)$`)
	if err != nil {
		t.Fatal(err)
	}
	return rx.MatchString
}
