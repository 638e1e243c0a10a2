package gatewayapi

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/legateproxy/legate/translators/ir"
)

// Hostnames in Gateway API are exact DNS names or "*." wildcards; a
// wildcard matches one or more labels in its place ("*.example.com" matches
// "a.example.com" and "a.b.example.com", not "example.com"), which is
// Envoy's suffix wildcard. An empty listener hostname matches everything.

// validHostname accepts what the Hostname type allows: a lower-case DNS
// name, optionally with a leading "*." label, and not an IP address.
func validHostname(h string) error {
	if h == "*" || h == "" {
		return fmt.Errorf("hostname %q is not a DNS name", h)
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return fmt.Errorf("hostname %q is an IP address", h)
	}
	return ir.ValidateHostname(h)
}

func isWildcard(h string) bool { return strings.HasPrefix(h, "*.") }

// covers reports whether the listener hostname l matches every name the
// hostname h matches; l == "" covers everything.
func covers(l, h string) bool {
	switch {
	case l == "":
		return true
	case !isWildcard(l):
		return l == h
	case isWildcard(h):
		return strings.HasSuffix(h[1:], l[1:])
	default:
		return strings.HasSuffix(h, l[1:]) && len(h) > len(l)-1
	}
}

// intersect returns the hostname matching exactly the names both the
// listener hostname l and the route hostname h match, or "" if none does.
// The result is the more specific of the two.
func intersect(l, h string) string {
	if covers(l, h) {
		return h
	}
	if isWildcard(h) && covers(h, l) {
		return l
	}
	return ""
}

// routeHostnames returns the hostnames a route serves on a listener: each
// route hostname that intersects the listener's, narrowed to the
// intersection; the listener's hostname (or "*") when the route names none.
// Each is returned once, in the route's order.
func routeHostnames(listener string, route []string) []string {
	if len(route) == 0 {
		if listener == "" {
			return []string{"*"}
		}
		return []string{listener}
	}
	var out []string
	seen := map[string]bool{}
	for _, h := range route {
		if x := intersect(listener, h); x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// specificity orders listener hostnames as the spec matches them: an exact
// name before any wildcard, a wildcard with more labels before one with
// fewer, and every wildcard before the empty hostname.
func specificity(h string) int {
	switch {
	case h == "":
		return 0
	case isWildcard(h):
		return 1 + strings.Count(h, ".")
	default:
		return 1 << 20
	}
}
