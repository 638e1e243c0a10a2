package ingress_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/legateproxy/legate/ingress"
	"github.com/legateproxy/legate/translators"
)

// FuzzTranslate feeds the translator two things at once: a YAML document
// stream (seeded with every golden input) and bytes from which objects are
// built directly, so that values the API server would reject (and a folder
// of YAML would not) reach the translator too. Whatever it is given, it must
// not panic, its fragment and the registry's result must pass Validate, and
// translating twice must give the same result.
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
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		[]byte("the quick brown fox jumps over the lazy dog, twice over"),
		{255, 254, 253, 0, 1, 2, 128, 64, 32, 16, 8, 4, 2, 1, 200, 100, 50, 25, 12, 6, 3},
	} {
		f.Add([]byte(nil), seed)
	}
	good := goodSecretData(f)

	f.Fuzz(func(t *testing.T, doc []byte, genBytes []byte) {
		if len(doc) > 1<<16 || len(genBytes) > 1<<12 {
			t.Skip("input too large to be interesting")
		}
		objs, _ := decodeObjects(doc) // broken documents are skipped
		g := &generator{b: genBytes, good: good}
		objs = append(objs, g.objects()...)
		build := func() *translators.Inputs {
			in := &translators.Inputs{}
			for _, o := range objs {
				_ = in.Add(o) // kinds the translator does not read are dropped
			}
			in.Sort()
			return in
		}
		// Each translation must validate; two of the same inputs must agree.
		frag1, st1 := ingress.New().Translate(build(), testSettings())
		for _, e := range frag1.Validate() {
			t.Errorf("fragment does not validate: %v", e)
		}
		frag2, st2 := ingress.New().Translate(build(), testSettings())
		if !reflect.DeepEqual(frag1, frag2) || !reflect.DeepEqual(st1, st2) {
			t.Errorf("two translations of the same inputs differ")
		}
		res := translators.NewRegistry(ingress.New()).Translate(build(), testSettings())
		for _, e := range res.IR.Validate() {
			t.Errorf("registry result does not validate: %v", e)
		}
	})
}

// goodSecretData returns the Data of a Secret holding a valid key pair,
// taken from a golden input.
func goodSecretData(tb testing.TB) map[string][]byte {
	data, err := os.ReadFile("testdata/tls-valid.in.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		if s, ok := o.(*corev1.Secret); ok {
			return s.Data
		}
	}
	tb.Fatal("tls-valid.in.yaml holds no Secret")
	return nil
}

// generator builds objects from fuzz bytes. Each choice draws from a pool
// of values chosen to hit the translator's edges (valid, almost valid and
// garbage), or takes raw bytes as a string.
type generator struct {
	b    []byte
	good map[string][]byte
}

func (g *generator) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *generator) intn(n int) int { return int(g.byte()) % n }

func (g *generator) chance(inN int) bool { return g.intn(inN) == 0 }

// pick returns an element of pool, or (one time in pool+1) raw bytes.
func (g *generator) pick(pool ...string) string {
	i := g.intn(len(pool) + 1)
	if i < len(pool) {
		return pool[i]
	}
	n := g.intn(16)
	out := make([]byte, 0, n)
	for range n {
		out = append(out, g.byte())
	}
	return string(out)
}

var (
	fuzzNamespaces = []string{"default", "other"}
	fuzzServices   = []string{"web", "api", "ext", "", "UPPER"}
	fuzzHosts      = []string{"", "foo.example.com", "*.example.com", "*", "a.*.com", "10.0.0.1", "::1",
		"Foo.com", "bar.foo.example.com", "-bad.com", "exa mple.com", "*.foo.com", "a..b", "foo.example.com.",
		"xn--d1a.example.com", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "*.*.com"}
	fuzzPaths = []string{"", "/", "/foo", "/foo/", "/foo//", "foo", "/(a|b)*", "/.*", "/a?b", "/a#b",
		"/\x00", "/%2F", "/..", "/.", "/[", `\`, "/é", "//", "/a/./b", "/ spaced", "/\r\n"}
	fuzzPathTypes   = []string{"Exact", "Prefix", "ImplementationSpecific", "", "Regex", "prefix"}
	fuzzPortNames   = []string{"http", "grpc", "", "h2c", "x"}
	fuzzPortNumbers = []int32{0, 80, 443, 8080, 65535, 65536, -1, 50051}
	fuzzSecrets     = []string{"good", "bad", "missing", "", "nokey"}
	fuzzAddrs       = []string{"10.0.0.1", "10.0.0.2", "fd00::1", "fe80::1%eth0", "bogus", "", "10.0.0.1 ", "::ffff:10.0.0.3"}
	fuzzExternal    = []string{"api.partner.example.org", "", "*.x.com", "UPPER.com", "1.2.3.4", "a..b", "x.", "bad name"}
	fuzzAppProtos   = []string{"h2c", "kubernetes.io/h2c", "grpc", "http", ""}
	fuzzAddrTypes   = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN, "bogus"}
)

func (g *generator) port() int32 {
	if g.chance(8) {
		return int32(g.intn(256)) << g.intn(16)
	}
	return fuzzPortNumbers[g.intn(len(fuzzPortNumbers))]
}

func (g *generator) objects() []client.Object {
	if len(g.b) == 0 {
		return nil
	}
	var out []client.Object

	classes := g.intn(3)
	for range classes {
		c := &networkingv1.IngressClass{}
		c.Name = g.pick("legate", "legate-internal", "nginx")
		c.Spec.Controller = g.pick("legate.dev/ingress-controller", "k8s.io/ingress-nginx")
		if g.chance(2) {
			c.Annotations = map[string]string{ingress.AnnotationDefaultClass: g.pick("true", "false")}
		}
		out = append(out, c)
	}

	for range g.intn(4) {
		s := &corev1.Service{}
		s.Namespace, s.Name = g.pick(fuzzNamespaces...), g.pick(fuzzServices...)
		if g.chance(3) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = g.pick(fuzzExternal...)
		}
		for range g.intn(4) {
			p := corev1.ServicePort{Name: g.pick(fuzzPortNames...), Port: g.port()}
			if g.chance(2) {
				ap := g.pick(fuzzAppProtos...)
				p.AppProtocol = &ap
			}
			s.Spec.Ports = append(s.Spec.Ports, p)
		}
		out = append(out, s)
	}

	for i := range g.intn(4) {
		es := &discoveryv1.EndpointSlice{}
		es.Namespace, es.Name = g.pick(fuzzNamespaces...), fmt.Sprintf("slice-%d", i)
		es.Labels = map[string]string{discoveryv1.LabelServiceName: g.pick(fuzzServices...)}
		es.AddressType = fuzzAddrTypes[g.intn(len(fuzzAddrTypes))]
		for range g.intn(3) {
			p := discoveryv1.EndpointPort{}
			if !g.chance(4) {
				n := g.pick(fuzzPortNames...)
				p.Name = &n
			}
			if !g.chance(4) {
				n := g.port()
				p.Port = &n
			}
			es.Ports = append(es.Ports, p)
		}
		for range g.intn(4) {
			ep := discoveryv1.Endpoint{Addresses: []string{g.pick(fuzzAddrs...)}}
			switch g.intn(3) {
			case 1:
				ep.Conditions.Ready = ptr(true)
			case 2:
				ep.Conditions.Ready = ptr(false)
			}
			es.Endpoints = append(es.Endpoints, ep)
		}
		out = append(out, es)
	}

	for _, name := range []string{"good", "bad", "nokey"} {
		if !g.chance(2) {
			continue
		}
		s := &corev1.Secret{}
		s.Namespace, s.Name = g.pick(fuzzNamespaces...), name
		switch name {
		case "good":
			s.Data = g.good
		case "bad":
			s.Data = map[string][]byte{corev1.TLSCertKey: []byte(g.pick("garbage")), corev1.TLSPrivateKeyKey: []byte(g.pick("garbage"))}
		case "nokey":
			s.Data = map[string][]byte{corev1.TLSCertKey: g.good[corev1.TLSCertKey]}
		}
		out = append(out, s)
	}

	for i := range 1 + g.intn(4) {
		out = append(out, g.ingress(i))
	}
	return out
}

func (g *generator) ingress(i int) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{}
	ing.Namespace = g.pick(fuzzNamespaces...)
	ing.Name = g.pick("one", "two", fmt.Sprintf("ing-%d", i))
	ing.Generation = int64(g.intn(4))
	ing.CreationTimestamp = metav1.NewTime(time.Date(2025, 1, 1+g.intn(3), 0, 0, 0, 0, time.UTC))
	switch g.intn(4) {
	case 0:
		ing.Spec.IngressClassName = ptr(g.pick("legate", "legate-internal", "nginx"))
	case 1:
		ing.Annotations = map[string]string{ingress.AnnotationIngressClass: g.pick("legate", "legate-internal", "nginx")}
	}
	if g.chance(3) {
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations[ingress.AnnotationForceSSLRedirect] = g.pick("true", "false")
	}
	if g.chance(3) {
		ing.Spec.DefaultBackend = g.backend()
	}
	for range g.intn(3) {
		tls := networkingv1.IngressTLS{SecretName: g.pick(fuzzSecrets...)}
		for range g.intn(3) {
			tls.Hosts = append(tls.Hosts, g.pick(fuzzHosts...))
		}
		ing.Spec.TLS = append(ing.Spec.TLS, tls)
	}
	for range g.intn(4) {
		rule := networkingv1.IngressRule{Host: g.pick(fuzzHosts...)}
		if !g.chance(6) {
			rule.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for range g.intn(5) {
				p := networkingv1.HTTPIngressPath{Path: g.pick(fuzzPaths...), Backend: *g.backend()}
				if !g.chance(8) {
					p.PathType = ptr(networkingv1.PathType(g.pick(fuzzPathTypes...)))
				}
				rule.HTTP.Paths = append(rule.HTTP.Paths, p)
			}
		}
		ing.Spec.Rules = append(ing.Spec.Rules, rule)
	}
	return ing
}

func (g *generator) backend() *networkingv1.IngressBackend {
	be := &networkingv1.IngressBackend{}
	kind := g.intn(8)
	if kind == 0 || kind == 1 {
		be.Resource = &corev1.TypedLocalObjectReference{Kind: g.pick("StorageBucket"), Name: g.pick("assets")}
	}
	if kind != 0 && kind != 7 {
		svc := &networkingv1.IngressServiceBackend{Name: g.pick(fuzzServices...)}
		switch g.intn(4) {
		case 0:
			svc.Port.Name = g.pick(fuzzPortNames...)
		case 1:
			svc.Port.Name, svc.Port.Number = g.pick(fuzzPortNames...), g.port()
		default:
			svc.Port.Number = g.port()
		}
		be.Service = svc
	}
	return be
}

func ptr[T any](v T) *T { return &v }
