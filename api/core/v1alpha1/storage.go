package v1alpha1

// SharedDirectoryProvisioner is the provisioner of StorageClasses whose claims are backed
// by a directory on a filesystem that every node mounts (NFS, CephFS, a cluster
// filesystem) at its agent's --shared-claim-dir: such a claim is not tied to a node, so
// its pods may run, and its data follows them, anywhere. A claim of any other class, or of
// none, is a directory on the node it is first used on.
const SharedDirectoryProvisioner = "kybern.io/shared-directory"
