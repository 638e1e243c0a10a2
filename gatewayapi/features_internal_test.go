package gatewayapi

import (
	"net/netip"
	"testing"

	"github.com/legateproxy/legate/translators"
)

// TestPort8080Free: Gateways may claim port 8080 only where they cannot
// collide with the shared Ingress listeners.
func TestPort8080Free(t *testing.T) {
	pool := netip.MustParsePrefix("127.100.0.0/16")
	for _, c := range []struct {
		name   string
		change func(*translators.Settings)
		want   bool
	}{
		{"defaults: shared HTTP listener on 0.0.0.0:8080", func(*translators.Settings) {}, false},
		{"shared listeners moved off 8080", func(s *translators.Settings) { s.HTTPPort = 18080 }, true},
		{"HTTPS on 8080", func(s *translators.Settings) { s.HTTPPort, s.HTTPSPort = 80, 8080 }, false},
		{"pool, shared listeners on a wildcard", func(s *translators.Settings) { s.GatewayAddressPool = pool }, false},
		{"pool, shared listeners on their own address", func(s *translators.Settings) {
			s.GatewayAddressPool, s.ListenAddress = pool, "127.0.0.1"
		}, true},
		{"pool covering the shared listeners' address", func(s *translators.Settings) {
			s.GatewayAddressPool, s.ListenAddress = pool, "127.100.0.7"
		}, false},
	} {
		s := translators.DefaultSettings()
		c.change(&s)
		if got := port8080Free(s); got != c.want {
			t.Errorf("%s: port8080Free = %v, want %v", c.name, got, c.want)
		}
	}
}
