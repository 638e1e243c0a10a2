package emissary

import (
	"encoding/json"
	"slices"

	v3 "github.com/legateproxy/legate/apis/getambassador.io/v3alpha1"
	"github.com/legateproxy/legate/translators"
)

// moduleDefaults are the settings of the ambassador Module that apply to
// every Mapping which does not set them itself.
type moduleDefaults struct {
	CircuitBreakers         []*v3.CircuitBreaker `json:"circuit_breakers,omitempty"`
	LoadBalancer            *v3.LoadBalancer     `json:"load_balancer,omitempty"`
	RetryPolicy             *v3.RetryPolicy      `json:"retry_policy,omitempty"`
	CORS                    *v3.CORS             `json:"cors,omitempty"`
	ClusterIdleTimeoutMs    *int64               `json:"cluster_idle_timeout_ms,omitempty"`
	ClusterRequestTimeoutMs *int64               `json:"cluster_request_timeout_ms,omitempty"`
}

// moduleMatches are Module settings whose value Legate already has: set
// to that value they are accepted, otherwise reported as not supported.
var moduleMatches = map[string]any{
	"use_remote_address":   true,
	"xff_num_trusted_hops": float64(0),
	"regex_type":           "safe",
	"merge_slashes":        false,
}

// module reads the Modules: the one named "ambassador" gives Mapping
// defaults (circuit_breakers, load_balancer, retry_policy, cors,
// cluster_idle_timeout_ms, cluster_request_timeout_ms as timeout_ms);
// settings that match what Legate builds anyway (use_remote_address: true,
// xff_num_trusted_hops: 0, regex_type: safe, merge_slashes: false) are
// accepted; every other setting is reported as not supported.
func (tr *translation) module(mods []*v3.Module) {
	found := false
	for _, mod := range mods {
		rep := newReport("Module", mod)
		tr.reports = append(tr.reports, rep)
		if mod.Name != "ambassador" {
			rep.add(translators.SeverityWarning, "metadata.name", "NotSupported", "only the Module named \"ambassador\" is read; this one has no effect")
			continue
		}
		if found {
			rep.add(translators.SeverityWarning, "metadata.name", "Duplicate", "another ambassador Module (the first by namespace and name) is used; this one has no effect")
			continue
		}
		found = true
		raw := mod.Spec.Config.Raw
		if len(raw) == 0 {
			continue
		}
		var all map[string]json.RawMessage
		if err := json.Unmarshal(raw, &all); err != nil {
			rep.add(translators.SeverityError, "spec.config", "InvalidConfig", "config is not an object: %v", err)
			continue
		}
		var d moduleDefaults
		if err := json.Unmarshal(raw, &d); err != nil {
			rep.add(translators.SeverityError, "spec.config", "InvalidConfig", "%v; no setting of the Module is used", err)
			continue
		}
		tr.defaults = &d
		keys := make([]string, 0, len(all))
		for k := range all {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			switch k {
			case "circuit_breakers", "load_balancer", "retry_policy", "cors", "cluster_idle_timeout_ms", "cluster_request_timeout_ms":
				continue
			}
			if want, ok := moduleMatches[k]; ok {
				var got any
				if json.Unmarshal(all[k], &got) == nil && got == want {
					continue
				}
				rep.add(translators.SeverityWarning, "spec.config."+k, "NotSupported", "%s other than %v is not supported and is ignored", k, want)
				continue
			}
			rep.add(translators.SeverityWarning, "spec.config."+k, "NotSupported", "%s is not supported and is ignored", k)
		}
	}
}

// withDefaults returns obj with the ambassador Module's defaults filled in
// where obj sets nothing (a copy; obj itself is not changed).
func (tr *translation) withDefaults(obj *v3.Mapping) *v3.Mapping {
	d := tr.defaults
	if d == nil {
		return obj
	}
	out := obj.DeepCopy()
	sp := &out.Spec
	if sp.CircuitBreakers == nil && d.CircuitBreakers != nil {
		for _, cb := range d.CircuitBreakers {
			sp.CircuitBreakers = append(sp.CircuitBreakers, cb.DeepCopy())
		}
	}
	if sp.LoadBalancer == nil && d.LoadBalancer != nil {
		sp.LoadBalancer = d.LoadBalancer.DeepCopy()
	}
	if sp.RetryPolicy == nil && d.RetryPolicy != nil {
		sp.RetryPolicy = d.RetryPolicy.DeepCopy()
	}
	if sp.CORS == nil && d.CORS != nil {
		sp.CORS = d.CORS.DeepCopy()
	}
	if sp.ClusterIdleTimeoutMs == nil && d.ClusterIdleTimeoutMs != nil {
		v := *d.ClusterIdleTimeoutMs
		sp.ClusterIdleTimeoutMs = &v
	}
	if sp.TimeoutMs == nil && d.ClusterRequestTimeoutMs != nil {
		v := *d.ClusterRequestTimeoutMs
		sp.TimeoutMs = &v
	}
	return out
}
