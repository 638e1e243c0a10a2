package gatewayapi_test

import (
	"fmt"
	"testing"

	"github.com/legateproxy/legate/bench/benchutil"
	"github.com/legateproxy/legate/bench/workload"
	"github.com/legateproxy/legate/gatewayapi"
	"github.com/legateproxy/legate/translators"
)

// BenchmarkTranslate is this translator alone (no merge, no Envoy
// resources) on a fresh in-memory snapshot of N routes.
func BenchmarkTranslate(b *testing.B) {
	tr := gatewayapi.New()
	for _, size := range benchutil.Sizes() {
		b.Run(size.Name, func(b *testing.B) {
			objs := benchutil.Objects(b, workload.Gateway, size.N)
			benchutil.Run(b, objs, size.N, func(in *translators.Inputs) error {
				cfg, _ := tr.Translate(in, translators.DefaultSettings())
				routes := 0
				for _, l := range cfg.Listeners {
					for _, vh := range l.VirtualHosts {
						routes += len(vh.Routes)
					}
				}
				if routes != 2*size.N {
					return fmt.Errorf("got %d routes, want %d", routes, 2*size.N)
				}
				return nil
			})
		})
	}
}
