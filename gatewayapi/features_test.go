package gatewayapi_test

import (
	"slices"
	"testing"

	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/legateproxy/legate/gatewayapi"
)

// TestSupportedFeatures checks the one list of supported features: sorted
// (so that a feature added twice, or out of place, shows), without
// duplicates, and naming only features the Gateway API version Legate is
// built with defines (the conformance suite ignores names it does not
// know, which would hide a typo).
func TestSupportedFeatures(t *testing.T) {
	list := gatewayapi.SupportedFeatures
	for _, f := range gatewayapi.PoolFeatures {
		if slices.Contains(list, f) {
			t.Errorf("%s is claimed with a pool only, but is in SupportedFeatures", f)
		}
	}
	if len(list) == 0 {
		t.Fatal("no supported features")
	}
	if !slices.IsSorted(list) {
		t.Errorf("SupportedFeatures is not sorted: %v", list)
	}
	if len(slices.Compact(slices.Clone(list))) != len(list) {
		t.Errorf("SupportedFeatures has duplicates: %v", list)
	}
	known := map[features.FeatureName]bool{}
	for _, f := range features.AllFeatures.UnsortedList() {
		known[f.Name] = true
	}
	for _, f := range list {
		if !known[f] {
			t.Errorf("%q is not a Gateway API feature", f)
		}
	}
	for _, must := range []features.FeatureName{features.SupportGateway, features.SupportHTTPRoute, features.SupportGRPCRoute, features.SupportReferenceGrant} {
		if !slices.Contains(list, must) {
			t.Errorf("SupportedFeatures lacks %s, which Legate implements", must)
		}
	}
}
