package metricsserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/controllers/internal/resourcemetrics"
)

// GroupVersion is the metrics API's: metrics.k8s.io's objects under kybern's group, since
// its pods and nodes are kybern's, not core's.
var GroupVersion = schema.GroupVersion{Group: "metrics.kybern.io", Version: "v1beta1"}

// api serves GroupVersion from a Reader: discovery, and get and list of nodes and pods,
// with labelSelector matched against the Node's or Pod's labels (which the items carry,
// as metrics-server's do). Only objects that exist and have usage are listed.
type api struct {
	usage resourcemetrics.Reader
	// objects reads the Nodes and Pods the usage is of.
	objects client.Reader
	clock   clock.PassiveClock
}

func (a *api) handler() http.Handler {
	mux := http.NewServeMux()
	prefix := "/apis/" + GroupVersion.Group
	mux.HandleFunc("GET "+prefix, a.group)
	mux.HandleFunc("GET "+prefix+"/{$}", a.group)
	mux.HandleFunc("GET "+prefix+"/"+GroupVersion.Version, a.resources)
	mux.HandleFunc("GET "+prefix+"/"+GroupVersion.Version+"/{$}", a.resources)
	v := prefix + "/" + GroupVersion.Version
	mux.HandleFunc("GET "+v+"/nodes", a.listNodes)
	mux.HandleFunc("GET "+v+"/nodes/{name}", a.getNode)
	mux.HandleFunc("GET "+v+"/pods", a.listPods)
	mux.HandleFunc("GET "+v+"/namespaces/{namespace}/pods", a.listPods)
	mux.HandleFunc("GET "+v+"/namespaces/{namespace}/pods/{name}", a.getPod)
	return mux
}

func (a *api) group(w http.ResponseWriter, _ *http.Request) {
	gv := metav1.GroupVersionForDiscovery{GroupVersion: GroupVersion.String(), Version: GroupVersion.Version}
	writeJSON(w, http.StatusOK, &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name: GroupVersion.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
}

func (a *api) resources(w http.ResponseWriter, _ *http.Request) {
	verbs := metav1.Verbs{"get", "list"}
	writeJSON(w, http.StatusOK, &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: GroupVersion.String(), APIResources: []metav1.APIResource{
			{Name: "nodes", SingularName: "nodemetrics", Kind: "NodeMetrics", Verbs: verbs},
			{Name: "pods", SingularName: "podmetrics", Namespaced: true, Kind: "PodMetrics", Verbs: verbs},
		}})
}

func (a *api) getNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	node := &corev1alpha1.Node{}
	err := a.objects.Get(r.Context(), client.ObjectKey{Name: name}, node)
	m, ok := a.usage.Node(name)
	if err != nil || !ok {
		if err != nil && !apierrors.IsNotFound(err) {
			writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		writeNotFound(w, "nodemetrics", name)
		return
	}
	item := a.nodeItem(m, node.Labels)
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, nodeTable([]metricsv1beta1.NodeMetrics{item}))
		return
	}
	writeJSON(w, http.StatusOK, &item)
}

func (a *api) listNodes(w http.ResponseWriter, r *http.Request) {
	selector, err := labelSelector(r)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var nodes corev1alpha1.NodeList
	if err := a.objects.List(r.Context(), &nodes, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	items := []metricsv1beta1.NodeMetrics{}
	for _, n := range nodes.Items {
		if m, ok := a.usage.Node(n.Name); ok {
			items = append(items, a.nodeItem(m, n.Labels))
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, nodeTable(items))
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.NodeMetricsList{TypeMeta: typeMeta("NodeMetricsList"), Items: items})
}

func (a *api) getPod(w http.ResponseWriter, r *http.Request) {
	key := types.NamespacedName{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	pod := &corev1alpha1.Pod{}
	err := a.objects.Get(r.Context(), key, pod)
	m, ok := a.usage.Pod(key)
	if err != nil || !ok {
		if err != nil && !apierrors.IsNotFound(err) {
			writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		writeNotFound(w, "podmetrics", key.Name)
		return
	}
	item := a.podItem(m, pod.Labels)
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, podTable([]metricsv1beta1.PodMetrics{item}))
		return
	}
	writeJSON(w, http.StatusOK, &item)
}

func (a *api) listPods(w http.ResponseWriter, r *http.Request) {
	selector, err := labelSelector(r)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var pods corev1alpha1.PodList
	if err := a.objects.List(r.Context(), &pods, client.InNamespace(r.PathValue("namespace")), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		writeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	items := []metricsv1beta1.PodMetrics{}
	for _, p := range pods.Items {
		if m, ok := a.usage.Pod(client.ObjectKeyFromObject(&p)); ok {
			items = append(items, a.podItem(m, p.Labels))
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, podTable(items))
		return
	}
	writeJSON(w, http.StatusOK, &metricsv1beta1.PodMetricsList{TypeMeta: typeMeta("PodMetricsList"), Items: items})
}

// nodeItem and podItem are what the API returns for m: its kind, the object's labels, and
// the time of the request as creation time, as metrics-server's objects have.
func (a *api) nodeItem(m metricsv1beta1.NodeMetrics, l map[string]string) metricsv1beta1.NodeMetrics {
	m.TypeMeta, m.Labels, m.CreationTimestamp = typeMeta("NodeMetrics"), l, metav1.NewTime(a.clock.Now())
	return m
}

func (a *api) podItem(m metricsv1beta1.PodMetrics, l map[string]string) metricsv1beta1.PodMetrics {
	m.TypeMeta, m.Labels, m.CreationTimestamp = typeMeta("PodMetrics"), l, metav1.NewTime(a.clock.Now())
	return m
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{Kind: kind, APIVersion: GroupVersion.String()}
}

func labelSelector(r *http.Request) (labels.Selector, error) {
	s, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		return nil, fmt.Errorf("labelSelector: %w", err)
	}
	return s, nil
}

// wantsTable says whether the client, as kubectl get does, asks for a meta.k8s.io Table.
func wantsTable(r *http.Request) bool {
	for _, accept := range strings.Split(r.Header.Get("Accept"), ",") {
		if strings.Contains(accept, "as=Table") {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers with a metav1.Status, as an apiserver answers errors.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: int32(code), Reason: reason, Message: msg})
}

// writeNotFound answers that there is no usage of name, naming its kind as metrics-server
// does (podmetrics, nodemetrics).
func writeNotFound(w http.ResponseWriter, resource, name string) {
	err := apierrors.NewNotFound(GroupVersion.WithResource(resource).GroupResource(), name)
	status := err.Status()
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeJSON(w, http.StatusNotFound, &status)
}

// windowString is how the tables show a window.
func windowString(d time.Duration) string { return d.Round(time.Millisecond).String() }
