package admission

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		addr, level, wantErr string
		exempt               Exemptions
		service              string
	}{
		{addr: ":9443", level: "baseline", service: "kybern-system/kybern-webhook"},
		{addr: ":9443", level: "baseline", service: "kybern-webhook", wantErr: "--webhook-service=kybern-webhook: must be <namespace>/<name>"},
		{addr: ":9443", level: "baseline", service: "kybern-system/Web_hook", wantErr: "must be <namespace>/<name> of a Service"},
		{addr: "127.0.0.1:9443", level: "baseline"},
		{addr: "0", level: "restricted"},
		{addr: "kybern-webhook.kybern-system.svc:443", level: "privileged"},
		{addr: ":9443", level: "baseline", wantErr: "--webhook-bind-address=:9443: the host is where the apiserver sends requests"},
		{addr: "0.0.0.0:9443", level: "baseline", wantErr: "must be an address it reaches"},
		{addr: "127.0.0.1:70000", level: "baseline", wantErr: "the port must be 1-65535"},
		{addr: "127.0.0.1", level: "baseline", wantErr: "--webhook-bind-address=127.0.0.1: address 127.0.0.1: missing port"},
		{addr: "127.0.0.1:9443", level: "strict", wantErr: "--pod-security-default-level=strict: must be privileged, baseline or restricted"},
		{addr: "127.0.0.1:9443", level: "baseline", exempt: Exemptions{Namespaces: []string{"kube-system"}, RuntimeClasses: []string{"gvisor.example"}, Usernames: []string{"system:admin"}}},
		{addr: "127.0.0.1:9443", level: "baseline", exempt: Exemptions{Namespaces: []string{"Kube_System"}}, wantErr: `--pod-security-exempt-namespaces: "Kube_System" is not a namespace name`},
		{addr: "127.0.0.1:9443", level: "baseline", exempt: Exemptions{RuntimeClasses: []string{"a b"}}, wantErr: `--pod-security-exempt-runtime-classes: "a b" is not a runtime class name`},
	} {
		err := (&Options{BindAddress: tc.addr, DefaultLevel: tc.level, Exempt: tc.exempt, Service: tc.service}).Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %s: %v", tc.addr, tc.level, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %s: got %v, want an error containing %q", tc.addr, tc.level, err, tc.wantErr)
		}
	}
}

func TestExtractPodSpecFindsEveryTemplate(t *testing.T) {
	spec := corev1.PodSpec{HostPID: true}
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	deploy := &appsv1alpha1.Deployment{}
	deploy.Spec.Template = tmpl
	rs := &appsv1alpha1.ReplicaSet{}
	rs.Spec.Template = tmpl
	ds := &appsv1alpha1.DaemonSet{}
	ds.Spec.Template = tmpl
	sts := &appsv1alpha1.StatefulSet{}
	sts.Spec.Template = tmpl
	job := &batchv1alpha1.Job{}
	job.Spec.Template = tmpl
	cj := &batchv1alpha1.CronJob{}
	cj.Spec.JobTemplate.Spec.Template = tmpl
	for _, obj := range []runtime.Object{deploy, rs, ds, sts, job, cj, &corev1.Pod{Spec: spec}} {
		_, got, err := podSpecs{}.ExtractPodSpec(obj)
		if err != nil || got == nil || !got.HostPID {
			t.Errorf("%T: got %v, %v", obj, got, err)
		}
	}
	if _, _, err := (podSpecs{}).ExtractPodSpec(&corev1.ConfigMap{}); err == nil {
		t.Error("a ConfigMap gave a pod spec")
	}
	for gr := range templated {
		if !(podSpecs{}).HasPodSpec(gr) {
			t.Errorf("%v has no pod spec", gr)
		}
	}
	if (podSpecs{}).HasPodSpec(schema.GroupResource{Group: "apps", Resource: "deployments"}) {
		t.Error("core Deployments are the apiserver's own admission's, not kybern's")
	}
}

// Behind a Service, as the Helm chart runs it, the apiserver is sent to the Service's port
// 443 at each handler's path; otherwise to the URL.
func TestEndpointClientConfig(t *testing.T) {
	svc := endpoint{namespace: "kybern-system", name: "kybern-webhook"}.clientConfig(mutatePath, []byte("ca"))
	if svc.URL != nil || svc.Service == nil || svc.Service.Namespace != "kybern-system" || svc.Service.Name != "kybern-webhook" ||
		*svc.Service.Port != 443 || *svc.Service.Path != "/mutate" || string(svc.CABundle) != "ca" {
		t.Errorf("service client config = %+v", svc)
	}
	url := endpoint{url: "https://127.0.0.1:9443"}.clientConfig(validatePath, nil)
	if url.Service != nil || url.URL == nil || *url.URL != "https://127.0.0.1:9443/validate" {
		t.Errorf("URL client config = %+v", url)
	}
}
