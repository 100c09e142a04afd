package v1alpha1

// The node agents' identity and heartbeats: what the manager's controllers, the agents
// and the cluster policies in config/ agree on.
const (
	// NodeUserPrefix starts a node agent's user name, kybern:node:<node>.
	NodeUserPrefix = "kybern:node:"
	// NodeGroup is the group every node agent authenticates in.
	NodeGroup = "kybern:nodes"
	// NodeLeaseNamespace holds one Lease per node, named after it, renewed by its agent.
	NodeLeaseNamespace = "kybern-node-lease"
)

// NodeUser is the user name of node's agent.
func NodeUser(node string) string { return NodeUserPrefix + node }

// Pods' identity, with upstream's names: the admission webhook, the controllers that give
// every namespace its account and CA, and the node agents agree on them.
const (
	// DefaultServiceAccountName is the account of a pod that names none; every namespace
	// has one.
	DefaultServiceAccountName = "default"
	// RootCAConfigMapName is the ConfigMap of every namespace whose RootCAConfigMapKey
	// holds the CA pods verify the apiserver with.
	RootCAConfigMapName = "kube-root-ca.crt"
	RootCAConfigMapKey  = "ca.crt"
)
