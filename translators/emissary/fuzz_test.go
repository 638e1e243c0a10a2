package emissary_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/emissary"
)

// FuzzTranslate feeds the translator a YAML stream (seeded with every golden
// input) and Mappings built directly from bytes, so that values a schema
// would reject reach it too. It must not panic; the fragment and the
// registry's result must validate; two translations of the same inputs must
// agree; and the Envoy snapshot built by the pipeline must pass deep
// validation. (This external test package may import the pipeline; the
// translator itself never imports xds.)
func FuzzTranslate(f *testing.F) {
	ins, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range ins {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, []byte(nil))
	}
	for _, seed := range [][]byte{
		{0},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
		[]byte("the quick brown fox jumps over the lazy dog, twice over and again"),
		{255, 254, 253, 0, 1, 2, 128, 64, 32, 16, 8, 4, 2, 1, 200, 100, 50, 25, 12, 6, 3},
	} {
		f.Add([]byte(nil), seed)
	}
	f.Fuzz(func(t *testing.T, doc, genBytes []byte) {
		if len(doc) > 1<<16 || len(genBytes) > 1<<12 {
			t.Skip("input too large to be interesting")
		}
		objs, _ := decodeObjects(doc) // broken documents are skipped
		g := &generator{b: genBytes}
		objs = append(objs, g.objects()...)
		opts := emissary.Options{}
		frag1, st1 := emissary.New(opts).Translate(inputsOf(objs), testSettings())
		for _, e := range frag1.Validate() {
			t.Errorf("fragment does not validate: %v", e)
		}
		frag2, st2 := emissary.New(opts).Translate(inputsOf(objs), testSettings())
		if !reflect.DeepEqual(frag1, frag2) || !reflect.DeepEqual(st1, st2) {
			t.Errorf("two translations of the same inputs differ")
		}
		res := translators.NewRegistry(emissary.New(opts)).Translate(inputsOf(objs), testSettings())
		for _, e := range res.IR.Validate() {
			t.Errorf("registry result does not validate: %v", e)
		}
		pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(emissary.New(opts)), Settings: testSettings()}
		if _, err := pipe.Run(inputsOf(objs)); err != nil {
			t.Errorf("snapshot fails validation: %v", err)
		}
	})
}

// generator builds objects from fuzz bytes; each choice draws from a pool of
// valid, almost valid and garbage values, or takes raw bytes as a string.
type generator struct{ b []byte }

func (g *generator) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *generator) pick(pool ...string) string {
	c := int(g.byte())
	if c < len(pool) {
		return pool[c]
	}
	if c >= 250 { // a raw string of up to 16 bytes
		n := int(g.byte()) % 17
		if n > len(g.b) {
			n = len(g.b)
		}
		s := string(g.b[:n])
		g.b = g.b[n:]
		return s
	}
	return pool[c%len(pool)]
}

func (g *generator) flag() *bool {
	switch g.byte() % 3 {
	case 0:
		return nil
	case 1:
		v := true
		return &v
	}
	v := false
	return &v
}

func (g *generator) intp(pool ...int) *int {
	c := int(g.byte())
	if c%4 == 0 {
		return nil
	}
	v := pool[c%len(pool)]
	return &v
}

func (g *generator) oneOf(pool ...int) int {
	return pool[int(g.byte())%len(pool)]
}

func (g *generator) int64p(pool ...int64) *int64 {
	c := int(g.byte())
	if c%3 == 0 {
		return nil
	}
	v := pool[c%len(pool)]
	return &v
}

func (g *generator) strMap(keys, values []string) map[string]string {
	n := int(g.byte() % 3)
	if n == 0 {
		return nil
	}
	out := map[string]string{}
	for range n {
		out[g.pick(keys...)] = g.pick(values...)
	}
	return out
}

func (g *generator) objects() []client.Object {
	if len(g.b) == 0 {
		return nil
	}
	ready := g.byte()%2 == 0
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "quote"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "grpc", Port: 9000}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "ext"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: g.pick("example.com", "bad name", "*.x.com", "")},
		},
		&discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "quote-1", Labels: map[string]string{discoveryv1.LabelServiceName: "quote"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{g.pick("10.0.0.1", "10.0.0.2", "not-an-ip", "fd00::1")}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		},
	}
	paths := []string{"/", "/backend/", "/a", "", "backend", "/a?b", "/[0-9]+", "(", "/x/.*", "/A/"}
	hosts := []string{"", "*", "foo.example.com", "*.example.com", "Foo.COM", "foo.*", "a b", "x:8080", "*"}
	services := []string{"quote", "quote:9000", "quote.default", "ext.other:443", "https://quote", "http://quote:80", "httpbin.org", "10.1.2.3:8080", "[fd00::2]:80", "quote:0", "ftp://x", "", "missing", "a.b.c.d", "quote.other", "[fd00::1"}
	hdrKeys := []string{"x-a", "x-b", ":authority", "X A", "", ":method"}
	hdrVals := []string{"", "v", "^v[0-9]+$", "(", "%PROTOCOL%", "a\nb", "*"}
	for i := range int(g.byte()%6) + 1 {
		sp := v3.MappingSpec{
			Prefix:               g.pick(paths...),
			PrefixRegex:          g.flag(),
			PrefixExact:          g.flag(),
			CaseSensitive:        g.flag(),
			Hostname:             g.pick(hosts...),
			Host:                 g.pick(hosts...),
			HostRegex:            g.flag(),
			Service:              g.pick(services...),
			Method:               g.pick("", "GET", "POST|PUT", "G ET", "("),
			MethodRegex:          g.flag(),
			Headers:              g.strMap(hdrKeys, hdrVals),
			RegexHeaders:         g.strMap(hdrKeys, hdrVals),
			QueryParameters:      g.strMap([]string{"q", "", "lang"}, hdrVals),
			RegexQueryParameters: g.strMap([]string{"q", "page"}, hdrVals),
			Weight:               g.intp(0, 10, 50, 100, 101, -1),
			Precedence:           g.intp(0, 1, 10, -5, 1<<40),
			TimeoutMs:            g.int64p(0, 1, 3000, -1, 1<<50),
			ConnectTimeoutMs:     g.int64p(1, 500, 0, -1),
			HostRedirect:         g.flag(),
			PathRedirect:         g.pick("", "/new", "rel"),
			PrefixRedirect:       g.pick("", "/v2/", "x"),
			RedirectResponseCode: g.intp(301, 302, 308, 200),
			HostRewrite:          g.pick("", "internal.example.com", "a/b"),
			Shadow:               g.flag(),
			GRPC:                 g.flag(),
			AmbassadorID:         []v3.AmbassadorID{nil, {"default"}, {"blue"}, {"_automatic_"}}[g.byte()%4],
		}
		if rw := g.pick("<unset>", "/", "", "/x/", "x"); rw != "<unset>" {
			sp.Rewrite = &rw
		}
		if g.byte()%2 == 0 {
			sp.AddRequestHeaders = map[string]v3.AddedHeader{g.pick(hdrKeys...): {Value: g.pick(hdrVals...), Append: g.flag()}}
			sp.RemoveResponseHeaders = []string{g.pick(hdrKeys...)}
		}
		if g.byte()%3 == 0 {
			sp.RetryPolicy = &v3.RetryPolicy{RetryOn: g.pick("5xx", "", "bogus"), NumRetries: g.intp(0, 3, -1), PerTryTimeout: g.pick("", "1s", "x", "-1s")}
		}
		objs = append(objs, &v3.Mapping{
			ObjectMeta: metav1.ObjectMeta{Namespace: g.pick("default", "other"), Name: fmt.Sprintf("m%d", i)},
			Spec:       sp,
		})
	}
	// Drawn after the Mappings, so that older corpus entries still make
	// the same Mappings: a Listener with l7Depth and statsPrefix, a
	// TLSContext that can terminate TLS, and TCPMappings.
	if len(g.b) > 0 {
		objs = append(objs, &v3.Listener{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "l"},
			Spec: v3.ListenerSpec{
				Port:          int32(g.oneOf(8080, 8443, 9443, 9000, 0)),
				Protocol:      v3.ProtocolType(g.pick("HTTP", "HTTPS", "TCP", "TLS", "")),
				SecurityModel: v3.SecurityModelType(g.pick("XFP", "SECURE", "INSECURE")),
				L7Depth:       int32(g.oneOf(0, 1, 2, -1)),
				StatsPrefix:   g.pick("", "ingress_http", "a..b", "x:y", "edge.v1"),
				HostBinding:   v3.HostBindingType{Namespace: v3.NamespaceBindingType{From: "ALL"}},
			},
		}, &v3.TLSContext{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ctx"},
			Spec:       v3.TLSContextSpec{Hosts: []string{"foo.example.com"}, Secret: g.pick("", "cert", "cert.other"), MinTLSVersion: g.pick("", "v1.2", "v9")},
		})
		for i := range int(g.byte() % 3) {
			objs = append(objs, &v3.TCPMapping{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("t%d", i)},
				Spec: v3.TCPMappingSpec{
					Port:    g.oneOf(9443, 9000, 8080, 0),
					Host:    g.pick(hosts...),
					Service: g.pick(services...),
					TLS:     g.pick("", "ctx", "missing"),
					Weight:  g.intp(0, 50, 100, 101),
				},
			})
		}
	}
	return objs
}

func ptr[T any](v T) *T { return &v }
