package configsnapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
)

// hashLen is how many hex digits of the content's SHA-256 a snapshot's name carries.
const hashLen = 10

// maxNameLen is the longest ConfigMap or Secret name the apiserver takes.
const maxNameLen = 253

// Snapshotter makes and owns snapshots. It is safe for concurrent use.
type Snapshotter struct {
	// Metadata reads ConfigMaps' and Secrets' metadata, from the manager's cache.
	Metadata client.Reader
	// Live reads whole objects from the apiserver: Secrets' data is never cached.
	Live client.Reader
	// Writer creates snapshots and patches their owners.
	Writer client.Writer

	mu sync.Mutex
	// hashes remembers each source's content hash at a resourceVersion, so that a
	// reconcile reads the source's data only when it changed.
	hashes map[source]versionHash
}

type source struct {
	namespace string
	Ref
}

type versionHash struct {
	resourceVersion, hash string
}

// Template returns t with each ConfigMap and Secret it references replaced by a snapshot
// of it, creating the snapshots that do not exist yet, owned by workload until Own hands
// them to a revision; and the refs of the snapshots it uses. A reference to an object
// that does not exist, or that is itself a snapshot, is kept as it is: the pods wait for
// the first as upstream's do, and the second pins what the user chose.
func (s *Snapshotter) Template(ctx context.Context, namespace string, t *corev1.PodTemplateSpec, workload metav1.OwnerReference) (*corev1.PodTemplateSpec, []Ref, error) {
	names := map[Ref]string{}
	var snaps []Ref
	for _, ref := range References(&t.Spec) {
		name, err := s.snapshot(ctx, namespace, ref, workload)
		if err != nil {
			return nil, nil, fmt.Errorf("snapshotting %s %s/%s: %w", ref.Kind, namespace, ref.Name, err)
		}
		if name != "" {
			names[ref] = name
			snaps = append(snaps, Ref{Kind: ref.Kind, Name: name})
		}
	}
	return Rewrite(t, names), snaps, nil
}

// snapshot returns the name of ref's snapshot, made if missing, or "" to keep ref.
func (s *Snapshotter) snapshot(ctx context.Context, namespace string, ref Ref, workload metav1.OwnerReference) (string, error) {
	src := metadataOf(ref.Kind)
	key := client.ObjectKey{Namespace: namespace, Name: ref.Name}
	err := s.Metadata.Get(ctx, key, src)
	if apierrors.IsNotFound(err) {
		// Perhaps created a moment ago: a reference rewritten only once the cache shows
		// it would roll out a needless revision first.
		err = s.Live.Get(ctx, key, src)
	}
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", err
	}
	if _, isSnapshot := src.Annotations[appsv1alpha1.SnapshotOfAnnotation]; isSnapshot {
		return "", nil
	}
	var full client.Object
	hash, ok := s.knownHash(namespace, ref, src.ResourceVersion)
	if !ok {
		obj, err := s.read(ctx, namespace, ref)
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		full, hash = obj, contentHash(obj)
		s.remember(namespace, ref, obj.GetResourceVersion(), hash)
	}
	name := snapshotName(ref.Name, hash)
	existing := metadataOf(ref.Kind)
	err = s.Metadata.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, existing)
	if apierrors.IsNotFound(err) {
		err = s.Live.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, existing)
	}
	switch {
	case err == nil:
		return name, checkSnapshot(existing, ref)
	case !apierrors.IsNotFound(err):
		return "", err
	}
	if full == nil {
		if full, err = s.read(ctx, namespace, ref); err != nil {
			return "", client.IgnoreNotFound(err)
		}
		if contentHash(full) != hash {
			// Changed since the cache showed it; the watch event of the change brings the
			// workload back for the new content.
			return "", fmt.Errorf("the content changed while being snapshotted")
		}
	}
	snap := snapshotOf(full, name, workload)
	if err := s.Writer.Create(ctx, snap); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	return name, nil
}

// checkSnapshot refuses to use, as ref's snapshot, an object of the snapshot's name that
// is not one.
func checkSnapshot(obj *metav1.PartialObjectMetadata, ref Ref) error {
	if obj.Annotations[appsv1alpha1.SnapshotOfAnnotation] != ref.Name {
		return fmt.Errorf("%s %s exists and is not a snapshot of %s: rename or delete it", ref.Kind, obj.Name, ref.Name)
	}
	return nil
}

func (s *Snapshotter) knownHash(namespace string, ref Ref, resourceVersion string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.hashes[source{namespace, ref}]
	return h.hash, ok && h.resourceVersion == resourceVersion
}

func (s *Snapshotter) remember(namespace string, ref Ref, resourceVersion, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hashes == nil {
		s.hashes = map[source]versionHash{}
	}
	s.hashes[source{namespace, ref}] = versionHash{resourceVersion: resourceVersion, hash: hash}
}

func (s *Snapshotter) read(ctx context.Context, namespace string, ref Ref) (client.Object, error) {
	var obj client.Object = &corev1.ConfigMap{}
	if ref.Kind == Secret {
		obj = &corev1.Secret{}
	}
	return obj, s.Live.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, obj)
}

// contentHash hashes what a pod reads of a ConfigMap or Secret: its data and, for a
// Secret, its type.
func contentHash(obj client.Object) string {
	var content any
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		content = struct {
			Data       map[string]string
			BinaryData map[string][]byte
		}{o.Data, o.BinaryData}
	case *corev1.Secret:
		content = struct {
			Type corev1.SecretType
			Data map[string][]byte
		}{o.Type, o.Data}
	}
	// Maps marshal with sorted keys, so equal content gives equal bytes.
	b, err := json.Marshal(content)
	if err != nil {
		panic(fmt.Sprintf("marshalling configuration content: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:hashLen]
}

// snapshotName is name-hash, name shortened to keep within the apiserver's limit.
func snapshotName(name, hash string) string {
	if keep := maxNameLen - 1 - len(hash); len(name) > keep {
		name = strings.TrimRight(name[:keep], ".-")
	}
	return name + "-" + hash
}

// snapshotOf is an immutable copy of src named name, owned by workload. It carries none
// of src's labels, which tools such as Argo CD track the objects they manage by.
func snapshotOf(src client.Object, name string, workload metav1.OwnerReference) client.Object {
	meta := metav1.ObjectMeta{
		Name:            name,
		Namespace:       src.GetNamespace(),
		Annotations:     map[string]string{appsv1alpha1.SnapshotOfAnnotation: src.GetName()},
		OwnerReferences: []metav1.OwnerReference{workload},
	}
	if s, ok := src.(*corev1.Secret); ok {
		return &corev1.Secret{ObjectMeta: meta, Type: s.Type, Data: s.Data, Immutable: ptr.To(true)}
	}
	cm := src.(*corev1.ConfigMap)
	return &corev1.ConfigMap{ObjectMeta: meta, Data: cm.Data, BinaryData: cm.BinaryData, Immutable: ptr.To(true)}
}

// Own makes revision an owner of each snapshot in snaps, in place of workload, so that
// the snapshot goes with the last revision that uses it.
func (s *Snapshotter) Own(ctx context.Context, namespace string, snaps []Ref, revision metav1.OwnerReference, workload types.UID) error {
	for _, ref := range snaps {
		obj := metadataOf(ref.Kind)
		key := client.ObjectKey{Namespace: namespace, Name: ref.Name}
		err := s.Metadata.Get(ctx, key, obj)
		if apierrors.IsNotFound(err) {
			err = s.Live.Get(ctx, key, obj)
		}
		if err != nil {
			return client.IgnoreNotFound(err)
		}
		refs, changed := owners(obj.OwnerReferences, revision, workload)
		if !changed {
			continue
		}
		orig := obj.DeepCopy()
		obj.OwnerReferences = refs
		if err := s.Writer.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("handing %s %s/%s to %s %s: %w", ref.Kind, namespace, ref.Name, revision.Kind, revision.Name, err)
		}
	}
	return nil
}

// owners is refs with revision added and workload removed, and whether that differs.
func owners(refs []metav1.OwnerReference, revision metav1.OwnerReference, workload types.UID) ([]metav1.OwnerReference, bool) {
	out := make([]metav1.OwnerReference, 0, len(refs)+1)
	has := false
	for _, r := range refs {
		switch r.UID {
		case workload:
			continue
		case revision.UID:
			has = true
		}
		out = append(out, r)
	}
	if !has {
		out = append(out, revision)
	}
	return out, !has || len(out) != len(refs)
}

func metadataOf(k Kind) *metav1.PartialObjectMetadata {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(k)))
	return obj
}
