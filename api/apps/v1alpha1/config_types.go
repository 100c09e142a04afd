package v1alpha1

// ConfigPolicy says which version of the ConfigMaps and Secrets that a pod template
// references the pods of a revision read.
// +kubebuilder:validation:Enum=Live;Snapshot
type ConfigPolicy string

const (
	// ConfigLive pods read each ConfigMap and Secret as it is, as upstream's do: an edit
	// starts no rollout, and a rollback keeps the configuration as it is.
	ConfigLive ConfigPolicy = "Live"
	// ConfigSnapshot pods read the ConfigMaps and Secrets as they were when their revision
	// was made. The controller copies each referenced one into an immutable snapshot named
	// <name>-<hash of its content>, annotated SnapshotOfAnnotation, owned by the revisions
	// (ReplicaSets or ControllerRevisions) whose pods use it, and points the revision's
	// template at the copies. An edit is then a new revision, rolled out as a template
	// change is; a rollback brings the old configuration back with the old template; a
	// snapshot is collected with the last revision that owns it.
	ConfigSnapshot ConfigPolicy = "Snapshot"
)

// SnapshotOfAnnotation, on a configuration snapshot, names the ConfigMap or Secret it
// copies. A template's reference to an object so annotated is kept as it is.
const SnapshotOfAnnotation = "apps.kybern.io/snapshot-of"
