package admission

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	jsonpatch "gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch

// Upstream's names for a pod's service account volume: the prefix of its generated name,
// where every container mounts it, and how long the token it projects lives.
const (
	TokenVolumePrefix      = "kube-api-access-"
	TokenMountPath         = "/var/run/secrets/kubernetes.io/serviceaccount"
	TokenExpirationSeconds = 3607
)

// serviceAccounts gives a new Pod its service account as upstream's ServiceAccount
// admission plugin gives a core Pod: serviceAccountName "default" when it names none, an
// error when the account does not exist, and, unless the pod or its account turns
// automountServiceAccountToken off, a projected volume kube-api-access-<random> (a bound
// token, the cluster CA as ca.crt, the namespace) mounted read-only at TokenMountPath in
// every container that mounts nothing there.
type serviceAccounts struct {
	// cache serves the accounts; live reads one the cache does not hold yet.
	cache, live client.Reader
	decoder     admission.Decoder
}

func (s *serviceAccounts) Handle(ctx context.Context, req admission.Request) admission.Response {
	pod := &corev1alpha1.Pod{}
	if err := s.decoder.DecodeRaw(req.Object, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var patch []jsonpatch.JsonPatchOperation
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = corev1alpha1.DefaultServiceAccountName
		patch = append(patch, jsonpatch.NewOperation("add", "/spec/serviceAccountName", account))
	}
	sa, err := s.account(ctx, req.Namespace, account)
	if apierrors.IsNotFound(err) {
		return admission.Denied(fmt.Sprintf("error looking up service account %s/%s: serviceaccount %q not found: create it, or set spec.serviceAccountName to an account of the namespace",
			req.Namespace, account, account))
	}
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("looking up service account %s/%s: %w", req.Namespace, account, err))
	}
	if automount(pod, sa) {
		patch = append(patch, mountToken(&pod.Spec, TokenVolumePrefix+utilrand.String(5))...)
	}
	return admission.Patched("", patch...)
}

// account reads the service account, asking the apiserver when the cache lacks it: ten
// times, 100-200 ms apart, for "default", which the namespace's controller is about to
// create, as upstream does.
func (s *serviceAccounts) account(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa := &corev1.ServiceAccount{}
	key := types.NamespacedName{Namespace: namespace, Name: name}
	err := s.cache.Get(ctx, key, sa)
	if !apierrors.IsNotFound(err) {
		return sa, err
	}
	attempts := 1
	if name == corev1alpha1.DefaultServiceAccountName {
		attempts = 10
	}
	pause := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pause):
			}
		}
		if err = s.live.Get(ctx, key, sa); !apierrors.IsNotFound(err) {
			return sa, err
		}
	}
	return nil, err
}

// automount is the pod's automountServiceAccountToken, else its account's, else true.
func automount(pod *corev1alpha1.Pod, sa *corev1.ServiceAccount) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken is the patch that mounts the service account volume at TokenMountPath in
// every init and app container of spec that mounts nothing there, and adds the volume,
// called name, unless the pod already has one of that prefix or no container needs it.
// The patch adds only these values: a patch from a re-encoded pod would also write the
// empty fields of the request, which the CRD's schema refuses.
func mountToken(spec *corev1.PodSpec, name string) []jsonpatch.JsonPatchOperation {
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, TokenVolumePrefix) {
			return mounts(spec, v.Name)
		}
	}
	patch := mounts(spec, name)
	if len(patch) == 0 {
		return nil
	}
	return append(patch, appendTo("/spec/volumes", len(spec.Volumes),
		corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: tokenVolume()}}))
}

// mounts is the patch that mounts volume at TokenMountPath in the containers that mount
// nothing there.
func mounts(spec *corev1.PodSpec, volume string) []jsonpatch.JsonPatchOperation {
	mount := corev1.VolumeMount{Name: volume, ReadOnly: true, MountPath: TokenMountPath}
	var patch []jsonpatch.JsonPatchOperation
	for _, list := range []struct {
		field      string
		containers []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, c := range list.containers {
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == TokenMountPath }) {
				patch = append(patch, appendTo(fmt.Sprintf("/spec/%s/%d/volumeMounts", list.field, i), len(c.VolumeMounts), mount))
			}
		}
	}
	return patch
}

// appendTo is the operation that appends value to the list at path, which has n items;
// none means the list is not there yet.
func appendTo(path string, n int, value any) jsonpatch.JsonPatchOperation {
	if n == 0 {
		return jsonpatch.NewOperation("add", path, []any{value})
	}
	return jsonpatch.NewOperation("add", path+"/-", value)
}

// tokenVolume is upstream's service account volume: a token for the API server's
// audiences, the cluster CA and the pod's namespace.
func tokenVolume() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To(corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](TokenExpirationSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: corev1alpha1.RootCAConfigMapName},
				Items: []corev1.KeyToPath{{Key: corev1alpha1.RootCAConfigMapKey, Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}
