package ingress_test

import (
	"fmt"
	"math/rand/v2"
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
	"github.com/legateproxy/legate/pipeline"
	"github.com/legateproxy/legate/translators"
	"github.com/legateproxy/legate/translators/ir"
)

// FuzzTranslate feeds the translator two things at once: a YAML document
// stream (seeded with every golden input) and bytes from which objects are
// built directly, so that values the API server would reject (and a folder
// of YAML would not) reach the translator too. Whatever it is given, it must
// not panic, its fragment and the registry's result must pass Validate, the
// Envoy snapshot made from them must pass xds.Validate, and translating twice
// must give the same result. (This external test package may import the
// pipeline; the ingress package itself never imports xds.)
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
		// The whole way to Envoy: the snapshot built from these inputs must
		// pass the deep xDS validation (what Envoy would reject, it fails).
		pipe := &pipeline.Pipeline{Registry: translators.NewRegistry(ingress.New()), Settings: testSettings()}
		if _, err := pipe.Run(build()); err != nil {
			t.Errorf("snapshot fails validation: %v", err)
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

// pick returns an element of pool, or (one time in eight) raw bytes.
func (g *generator) pick(pool ...string) string {
	if !g.chance(8) {
		return pool[g.intn(len(pool))]
	}
	n := g.intn(16)
	out := make([]byte, 0, n)
	for range n {
		out = append(out, g.byte())
	}
	return string(out)
}

// Each pool is {mostly valid values, edge cases and garbage}: choose draws
// from the first three times in four, so that most objects get far enough
// to exercise routing, and the rest probe validation.
var (
	fuzzNamespaces = [2][]string{{"default"}, {"other", ""}}
	fuzzServices   = [2][]string{{"web", "api", "ext"}, {"", "UPPER", "missing"}}
	fuzzHosts      = [2][]string{{"", "foo.example.com", "*.example.com", "bar.foo.example.com", "*.foo.com", "xn--d1a.example.com"},
		{"*", "a.*.com", "10.0.0.1", "::1", "Foo.com", "-bad.com", "exa mple.com", "a..b", "foo.example.com.", "*.*.com",
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"}}
	fuzzPaths = [2][]string{{"/", "/foo", "/foo/", "/foo/bar", "/(a|b)*", "/.*", "/[", "/é", "/ spaced"},
		{"", "/foo//", "foo", "/a?b", "/a#b", "/\x00", "/%2F", "/..", "/.", `\`, "//", "/a/./b", "/\r\n"}}
	fuzzPathTypes = [2][]string{{"Exact", "Prefix", "ImplementationSpecific"}, {"", "Regex", "prefix"}}
	fuzzPortNames = [2][]string{{"http", "grpc"}, {"", "h2c", "x"}}
	fuzzPortNums  = [2][]int32{{80, 8080}, {0, 443, 65535, 65536, -1, 50051}}
	fuzzSecrets   = [2][]string{{"good"}, {"bad", "missing", "", "nokey"}}
	fuzzAddrs     = [2][]string{{"10.0.0.1", "10.0.0.2", "fd00::1", "::ffff:10.0.0.3"}, {"fe80::1%eth0", "bogus", "", "10.0.0.1 "}}
	fuzzExternal  = [2][]string{{"api.partner.example.org", "x."}, {"", "*.x.com", "UPPER.com", "1.2.3.4", "a..b", "bad name"}}
	fuzzAppProtos = [2][]string{{"h2c", "kubernetes.io/h2c", "grpc", "http"}, {""}}
	fuzzAddrTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN, "bogus"}
)

// choose draws from pools[0] three times in four, else from pools[1] or raw
// bytes.
func (g *generator) choose(pools [2][]string) string {
	if !g.chance(4) {
		return pools[0][g.intn(len(pools[0]))]
	}
	return g.pick(pools[1]...)
}

func (g *generator) port() int32 {
	switch {
	case !g.chance(4):
		return fuzzPortNums[0][g.intn(len(fuzzPortNums[0]))]
	case g.chance(3):
		return int32(g.intn(256)) << g.intn(16)
	}
	return fuzzPortNums[1][g.intn(len(fuzzPortNums[1]))]
}

func (g *generator) objects() []client.Object {
	if len(g.b) == 0 {
		return nil
	}
	var out []client.Object

	// Legate's class is always there, so that most Ingresses are Legate's.
	owned := &networkingv1.IngressClass{}
	owned.Name, owned.Spec.Controller = "legate", "legate.dev/ingress-controller"
	if g.chance(2) {
		owned.Annotations = map[string]string{ingress.AnnotationDefaultClass: "true"}
	}
	out = append(out, owned)
	for range g.intn(3) {
		c := &networkingv1.IngressClass{}
		c.Name = g.pick("legate-internal", "nginx")
		c.Spec.Controller = g.pick("legate.dev/ingress-controller", "k8s.io/ingress-nginx")
		if g.chance(2) {
			c.Annotations = map[string]string{ingress.AnnotationDefaultClass: g.pick("true", "false")}
		}
		out = append(out, c)
	}

	for range 1 + g.intn(4) {
		s := &corev1.Service{}
		s.Namespace, s.Name = g.choose(fuzzNamespaces), g.choose(fuzzServices)
		if g.chance(3) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = g.choose(fuzzExternal)
		}
		for range 1 + g.intn(3) {
			p := corev1.ServicePort{Name: g.choose(fuzzPortNames), Port: g.port()}
			if g.chance(2) {
				ap := g.choose(fuzzAppProtos)
				p.AppProtocol = &ap
			}
			s.Spec.Ports = append(s.Spec.Ports, p)
		}
		out = append(out, s)
	}

	for i := range g.intn(5) {
		es := &discoveryv1.EndpointSlice{}
		es.Namespace, es.Name = g.choose(fuzzNamespaces), fmt.Sprintf("slice-%d", i)
		es.Labels = map[string]string{discoveryv1.LabelServiceName: g.choose(fuzzServices)}
		es.AddressType = fuzzAddrTypes[g.intn(len(fuzzAddrTypes))]
		for range g.intn(3) {
			p := discoveryv1.EndpointPort{}
			if !g.chance(4) {
				n := g.choose(fuzzPortNames)
				p.Name = &n
			}
			if !g.chance(4) {
				n := g.port()
				p.Port = &n
			}
			es.Ports = append(es.Ports, p)
		}
		for range g.intn(4) {
			ep := discoveryv1.Endpoint{Addresses: []string{g.choose(fuzzAddrs)}}
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
		if g.chance(3) {
			continue
		}
		s := &corev1.Secret{}
		s.Namespace, s.Name = g.choose(fuzzNamespaces), name
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
	ing.Namespace = g.choose(fuzzNamespaces)
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
		tls := networkingv1.IngressTLS{SecretName: g.choose(fuzzSecrets)}
		for range g.intn(3) {
			tls.Hosts = append(tls.Hosts, g.choose(fuzzHosts))
		}
		ing.Spec.TLS = append(ing.Spec.TLS, tls)
	}
	for range g.intn(4) {
		rule := networkingv1.IngressRule{Host: g.choose(fuzzHosts)}
		if !g.chance(6) {
			rule.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for range g.intn(5) {
				p := networkingv1.HTTPIngressPath{Path: g.choose(fuzzPaths), Backend: *g.backend()}
				if !g.chance(8) {
					p.PathType = ptr(networkingv1.PathType(g.choose(fuzzPathTypes)))
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
		svc := &networkingv1.IngressServiceBackend{Name: g.choose(fuzzServices)}
		switch g.intn(4) {
		case 0:
			svc.Port.Name = g.choose(fuzzPortNames)
		case 1:
			svc.Port.Name, svc.Port.Number = g.choose(fuzzPortNames), g.port()
		default:
			svc.Port.Number = g.port()
		}
		be.Service = svc
	}
	return be
}

func ptr[T any](v T) *T { return &v }

// TestGeneratorReachesTheTranslator checks that the fuzz generator builds
// inputs the translator does something with (routes, HTTPS, 503s, errors),
// so that fuzzing explores more than the rejection of garbage.
func TestGeneratorReachesTheTranslator(t *testing.T) {
	good := goodSecretData(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var routes, forward, https, unavailable, errs int
	for range 500 {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		in := &translators.Inputs{}
		for _, o := range (&generator{b: b, good: good}).objects() {
			_ = in.Add(o)
		}
		in.Sort()
		frag, statuses := ingress.New().Translate(in, testSettings())
		for _, e := range frag.Validate() {
			t.Fatalf("fragment does not validate: %v", e)
		}
		for _, l := range frag.Listeners {
			if l.Protocol == ir.ProtocolHTTPS {
				https++
			}
			for _, vh := range l.VirtualHosts {
				for _, r := range vh.Routes {
					routes++
					if r.DirectResponse != nil {
						unavailable++
					}
					if r.Forward != nil {
						forward++
					}
				}
			}
		}
		for _, st := range statuses {
			if !st.Accepted() {
				errs++
			}
		}
	}
	t.Logf("routes %d (forwarding %d, 503 %d), HTTPS listeners %d, statuses with errors %d", routes, forward, unavailable, https, errs)
	if routes < 100 || forward < 30 || https < 5 || unavailable == 0 || errs == 0 {
		t.Errorf("the generator rarely reaches the translator: routes %d (forwarding %d, 503 %d), HTTPS listeners %d, statuses with errors %d",
			routes, forward, unavailable, https, errs)
	}
}
