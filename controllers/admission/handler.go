package admission

import (
	"context"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/specvalidation"
)

// handler answers every request the configuration sends: a kybern object must pass
// upstream's validation of its kind first, then Pod Security judges its pods; a namespace
// change gets Pod Security's warnings about the kybern pods in it.
type handler struct {
	podSecurity *podSecurity
	decoder     admission.Decoder
	scheme      *runtime.Scheme
}

func (h *handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	obj, err := h.decode(req.Kind, req.Object)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var old runtime.Object
	if req.Operation == admissionv1.Update {
		if old, err = h.decode(req.Kind, req.OldObject); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	errs, _, err := specvalidation.Validate(obj, old)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if len(errs) > 0 {
		status := apierrors.NewInvalid(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}, req.Name, errs).Status()
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
	}
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	if gr != kybernPods && gr != namespacesResource && !templated[gr] {
		return admission.Allowed("")
	}
	return h.podSecurity.review(ctx, req, obj, old)
}

var (
	kybernPods         = corev1alpha1.GroupVersion.WithResource("pods").GroupResource()
	namespacesResource = schema.GroupResource{Resource: "namespaces"}
)

func (h *handler) decode(kind metav1.GroupVersionKind, raw runtime.RawExtension) (runtime.Object, error) {
	obj, err := h.scheme.New(schema.GroupVersionKind(kind))
	if err != nil {
		return nil, err
	}
	return obj, h.decoder.DecodeRaw(raw, obj)
}
