package gatewayapi

import "cmp"

// byNamespacedName orders two objects as their "{namespace}/{name}"
// strings sort, the tie-break Gateway API gives after creation time
// (routes, Gateways, policies). Comparing the namespaces first is not the
// same when one namespace begins the other: "team-a/x" sorts before
// "team/y", because '-' sorts before '/'.
func byNamespacedName(ans, aname, bns, bname string) int {
	if ans == bns {
		return cmp.Compare(aname, bname)
	}
	la, lb := len(ans)+1+len(aname), len(bns)+1+len(bname)
	for i := range min(la, lb) {
		if ca, cb := joinedAt(ans, aname, i), joinedAt(bns, bname, i); ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(la, lb)
}

// joinedAt is byte i of namespace + "/" + name, without joining them.
func joinedAt(namespace, name string, i int) byte {
	switch {
	case i < len(namespace):
		return namespace[i]
	case i == len(namespace):
		return '/'
	default:
		return name[i-len(namespace)-1]
	}
}
