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
