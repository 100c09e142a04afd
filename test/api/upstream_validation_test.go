package api_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	appsv1alpha1 "github.com/kybern/kybern/api/apps/v1alpha1"
	autoscalingv1alpha1 "github.com/kybern/kybern/api/autoscaling/v1alpha1"
	batchv1alpha1 "github.com/kybern/kybern/api/batch/v1alpha1"
	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
)

// fromSampleWith builds the object of a sample file, with change applied, in the test's namespace.
func fromSampleWith[T any, PT interface {
	*T
	client.Object
}](file string, change func(PT)) func(string) client.Object {
	return func(ns string) client.Object {
		obj := PT(new(T))
		fromSample(file, obj, ns)
		change(obj)
		return obj
	}
}

// pod is the Pod sample with change applied to its spec.
func pod(change func(*corev1.PodSpec)) func(string) client.Object {
	return fromSampleWith("core_v1alpha1_pod.yaml", func(p *corev1alpha1.Pod) { change(&p.Spec) })
}

func deployment(change func(*appsv1alpha1.Deployment)) func(string) client.Object {
	return fromSampleWith("apps_v1alpha1_deployment.yaml", change)
}

func replicaSet(change func(*appsv1alpha1.ReplicaSet)) func(string) client.Object {
	return fromSampleWith("apps_v1alpha1_replicaset.yaml", change)
}

func daemonSet(change func(*appsv1alpha1.DaemonSet)) func(string) client.Object {
	return fromSampleWith("apps_v1alpha1_daemonset.yaml", change)
}

func statefulSet(change func(*appsv1alpha1.StatefulSet)) func(string) client.Object {
	return fromSampleWith("apps_v1alpha1_statefulset.yaml", change)
}

func job(change func(*batchv1alpha1.Job)) func(string) client.Object {
	return fromSampleWith("batch_v1alpha1_job.yaml", change)
}

func cronJob(change func(*batchv1alpha1.CronJob)) func(string) client.Object {
	return fromSampleWith("batch_v1alpha1_cronjob.yaml", change)
}

func autoscaler(change func(*autoscalingv1alpha1.HorizontalPodAutoscaler)) func(string) client.Object {
	return fromSampleWith("autoscaling_v1alpha1_horizontalpodautoscaler.yaml", change)
}

func service(change func(*corev1.ServiceSpec)) func(string) client.Object {
	return fromSampleWith("core_v1alpha1_service.yaml", func(svc *corev1alpha1.Service) { change(&svc.Spec) })
}

func endpointSlice(change func(*corev1alpha1.EndpointSlice)) func(string) client.Object {
	return fromSampleWith("core_v1alpha1_endpointslice.yaml", change)
}

// node is the Node sample, named after the test's namespace (Nodes have none), with change applied.
func node(change func(*corev1alpha1.Node)) func(string) client.Object {
	return fromSampleWith("core_v1alpha1_node.yaml", func(n *corev1alpha1.Node) {
		n.Name, n.Namespace = n.Namespace, ""
		change(n)
	})
}

func intOrString(s string) *intstr.IntOrString { return ptr.To(intstr.Parse(s)) }

var _ = Describe("Upstream's validation at admission", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	DescribeTable("refuses what upstream's apiserver refuses, naming the field",
		func(build func(ns string) client.Object, field, message string) {
			err := k8sClient.Create(ctx, build(ns))
			expectInvalid(err, field)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		// Pods: names, ports, enums, quantities, paths, probes.
		Entry("container name that is not a DNS label", pod(func(s *corev1.PodSpec) { s.Containers[0].Name = "Web_1" }),
			"spec.containers[0].name", "a lowercase RFC 1123 label"),
		Entry("two containers with one name", pod(func(s *corev1.PodSpec) { s.Containers = append(s.Containers, s.Containers[0]) }),
			"spec.containers[1]", "Duplicate value"),
		Entry("an init container named as a main one", pod(func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: s.Containers[0].Name, Image: "busybox"}}
		}), "spec.initContainers[0].name", "Duplicate value"),
		Entry("volume name that climbs out", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "../../victim", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}), "spec.volumes[0].name", "a lowercase RFC 1123 label"),
		Entry("two volumes with one name", pod(func(s *corev1.PodSpec) {
			v := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			s.Volumes = []corev1.Volume{v, v}
		}), "spec.volumes[1]", "Duplicate value"),
		Entry("a mount of no volume", pod(func(s *corev1.PodSpec) {
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nowhere", MountPath: "/data"}}
		}), "spec.containers[0].volumeMounts[0].name", "Not found"),
		Entry("containerPort 0", pod(func(s *corev1.PodSpec) { s.Containers[0].Ports[0].ContainerPort = 0 }),
			"spec.containers[0].ports[0].containerPort", "Required value"),
		Entry("containerPort 70000", pod(func(s *corev1.PodSpec) { s.Containers[0].Ports[0].ContainerPort = 70000 }),
			"spec.containers[0].ports[0].containerPort", "must be between 1 and 65535"),
		Entry("hostPort 70000", pod(func(s *corev1.PodSpec) { s.Containers[0].Ports[0].HostPort = 70000 }),
			"spec.containers[0].ports[0].hostPort", "must be between 1 and 65535"),
		Entry("protocol FOO", pod(func(s *corev1.PodSpec) { s.Containers[0].Ports[0].Protocol = "FOO" }),
			"spec.containers[0].ports[0].protocol", `Unsupported value: "FOO"`),
		Entry("two ports with one name", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: 80}, {Name: "web", ContainerPort: 81}}
		}), "spec.containers[0].ports[1].name", "Duplicate value"),
		Entry("restartPolicy Sometimes", pod(func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" }),
			"spec.restartPolicy", `Unsupported value: "Sometimes"`),
		Entry("dnsPolicy Sometimes", pod(func(s *corev1.PodSpec) { s.DNSPolicy = "Sometimes" }),
			"spec.dnsPolicy", `Unsupported value: "Sometimes"`),
		Entry("imagePullPolicy Sometimes", pod(func(s *corev1.PodSpec) { s.Containers[0].ImagePullPolicy = "Sometimes" }),
			"spec.containers[0].imagePullPolicy", `Unsupported value: "Sometimes"`),
		Entry("a negative cpu request", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
		}), "spec.containers[0].resources.requests[cpu]", "must be greater than or equal to 0"),
		Entry("a negative memory limit", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-64Mi")}
		}), "spec.containers[0].resources.limits[memory]", "must be greater than or equal to 0"),
		Entry("a request above its limit", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
		}), "spec.containers[0].resources.requests", "must be less than or equal to cpu limit"),
		Entry("an unknown resource without a domain", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Resources.Limits = corev1.ResourceList{"gpus": resource.MustParse("1")}
		}), "spec.containers[0].resources.limits[gpus]", "must be a standard resource"),
		Entry("no image", pod(func(s *corev1.PodSpec) { s.Containers[0].Image = "" }),
			"spec.containers[0].image", "Required value"),
		Entry("an absolute subPath", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "/etc"}}
		}), "spec.containers[0].volumeMounts.subPath", "must be a relative path"),
		Entry("a subPath that climbs", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data", SubPath: "a/../../etc"}}
		}), "spec.containers[0].volumeMounts.subPath", "must not contain '..'"),
		Entry("one mountPath twice", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "data", MountPath: "/data"}}
		}), "spec.containers[0].volumeMounts[1]", "Duplicate value"),
		Entry("a configMap item path that climbs", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "k", Path: "../../etc/cron.d/x"}}}}}}
		}), "spec.volumes[0].configMap.items[0].path", "must not contain '..'"),
		Entry("an absolute secret item path", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "creds", Items: []corev1.KeyToPath{{Key: "k", Path: "/etc/passwd"}}}}}}
		}), "spec.volumes[0].secret.items[0].path", "must be a relative path"),
		Entry("a configMap defaultMode above 0777", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0o4777)}}}}
		}), "spec.volumes[0].configMap.defaultMode", "must be a number between 0 and 0777"),
		Entry("a hostPath that climbs", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/../etc"}}}}
		}), "spec.volumes[0].hostPath.path", "must not contain '..'"),
		Entry("a volume with two sources", pod(func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{},
				HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
		}), "spec.volumes[0].hostPath", "may not specify more than 1 volume type"),
		Entry("an env var from an unknown field", pod(func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.secrets"}}}}
		}), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", "field label not supported: spec.secrets"),
		Entry("an env var with no name", pod(func(s *corev1.PodSpec) { s.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} }),
			"spec.containers[0].env[0].name", "Required value"),
		Entry("activeDeadlineSeconds 0", pod(func(s *corev1.PodSpec) { s.ActiveDeadlineSeconds = ptr.To[int64](0) }),
			"spec.activeDeadlineSeconds", "must be between 1 and 2147483647"),
		Entry("a hostname that is not a DNS label", pod(func(s *corev1.PodSpec) { s.Hostname = "Bad_Host" }),
			"spec.hostname", "a lowercase RFC 1123 label"),
		Entry("a nodeSelector key with a space", pod(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"bad key": "x"} }),
			"spec.nodeSelector", "name part must consist of alphanumeric characters"),
		Entry("an Exists toleration with a value", pod(func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}), "spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'"),
		Entry("a probe with two handlers", pod(func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}), "spec.containers[0].livenessProbe", "may not specify more than 1 handler type"),
		Entry("a liveness probe's successThreshold 2", pod(func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}
		}), "spec.containers[0].livenessProbe.successThreshold", "must be 1"),
		Entry("hostNetwork with a hostPort unlike its containerPort", pod(func(s *corev1.PodSpec) {
			s.HostNetwork = true
			s.Containers[0].Ports[0].HostPort = 8080
		}), "spec.containers[0].ports[0].hostPort", "must match `containerPort` when `hostNetwork` is true"),
		Entry("an unsafe-looking sysctl name", pod(func(s *corev1.PodSpec) {
			s.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel/../x", Value: "1"}}}
		}), "spec.securityContext.sysctls[0].name", "must have at most 253 characters and match regex"),
		Entry("a Localhost seccomp profile without its path", pod(func(s *corev1.PodSpec) {
			s.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}), "spec.securityContext.seccompProfile.localhostProfile", "Required value"),

		// Deployments and ReplicaSets: selectors, templates, rollout parameters.
		Entry("Deployment selector matchExpressions the template labels do not meet", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}
		}), "spec.template.metadata.labels", "`selector` does not match template `labels`"),
		Entry("Deployment selector operator Maybe", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Maybe", Values: []string{"web"}}}
		}), "spec.selector.matchExpressions[0].operator", "not a valid selector operator"),
		Entry("Deployment template restartPolicy Never", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), "spec.template.spec.restartPolicy", `Unsupported value: "Never"`),
		Entry("Deployment maxSurge abc%", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intOrString("abc%")}}
		}), "spec.strategy.rollingUpdate.maxSurge", "a valid percent string must be"),
		Entry("Deployment maxSurge and maxUnavailable both 0", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intOrString("0"), MaxUnavailable: intOrString("0")}}
		}), "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
		Entry("Deployment maxUnavailable 110%", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrString("110%")}}
		}), "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"),
		Entry("Deployment Recreate with rollingUpdate", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intOrString("1")}}
		}), "spec.strategy.rollingUpdate", "may not be set when spec.strategy.type is Recreate"),
		Entry("Deployment progressDeadlineSeconds not above minReadySeconds", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.MinReadySeconds, d.Spec.ProgressDeadlineSeconds = 30, ptr.To[int32](30)
		}), "spec.progressDeadlineSeconds", "must be greater than spec.minReadySeconds"),
		Entry("Deployment template container name that is not a DNS label", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Name = "Nginx"
		}), "spec.template.spec.containers[0].name", "a lowercase RFC 1123 label"),
		Entry("Deployment template container port 70000", deployment(func(d *appsv1alpha1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000}}
		}), "spec.template.spec.containers[0].ports[0].containerPort", "must be between 1 and 65535"),
		Entry("ReplicaSet template restartPolicy OnFailure", replicaSet(func(rs *appsv1alpha1.ReplicaSet) {
			rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}), "spec.template.spec.restartPolicy", `Unsupported value: "OnFailure"`),
		Entry("ReplicaSet selector matchExpressions the template labels do not meet", replicaSet(func(rs *appsv1alpha1.ReplicaSet) {
			rs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "release", Operator: metav1.LabelSelectorOpExists}}
		}), "spec.template.metadata.labels", "`selector` does not match template `labels`"),

		// DaemonSets and StatefulSets.
		Entry("DaemonSet maxUnavailable and maxSurge both 0", daemonSet(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrString("0"), MaxSurge: intOrString("0")}}
		}), "spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"),
		Entry("DaemonSet template restartPolicy Never", daemonSet(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}), "spec.template.spec.restartPolicy", `Unsupported value: "Never"`),
		Entry("DaemonSet toleration with an invalid effect", daemonSet(func(ds *appsv1alpha1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations[0].Effect = "Sometimes"
		}), "spec.template.spec.tolerations[0].effect", `Unsupported value: "Sometimes"`),
		Entry("StatefulSet podManagementPolicy Random", statefulSet(func(s *appsv1alpha1.StatefulSet) {
			s.Spec.PodManagementPolicy = "Random"
		}), "spec.podManagementPolicy", "must be OrderedReady or Parallel"),
		Entry("StatefulSet serviceName that is not a DNS label", statefulSet(func(s *appsv1alpha1.StatefulSet) { s.Spec.ServiceName = "Bad_Svc" }),
			"spec.serviceName", "a lowercase RFC 1123 label"),
		Entry("StatefulSet template restartPolicy OnFailure", statefulSet(func(s *appsv1alpha1.StatefulSet) {
			s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}), "spec.template.spec.restartPolicy", `Unsupported value: "OnFailure"`),
		Entry("StatefulSet volumeClaimTemplate without access modes", statefulSet(func(s *appsv1alpha1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil
		}), "spec.volumeClaimTemplates[0].spec.accessModes", "Required value"),
		Entry("StatefulSet updateStrategy OnDelete with rollingUpdate", statefulSet(func(s *appsv1alpha1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}}
		}), "spec.updateStrategy.rollingUpdate", "only allowed for updateStrategy 'RollingUpdate'"),

		// Jobs and CronJobs.
		Entry("Job selector without manualSelector", job(func(j *batchv1alpha1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}), "spec.selector", "`selector` not auto-generated"),
		Entry("Job template restartPolicy Always", job(func(j *batchv1alpha1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}), "spec.template.spec.restartPolicy", "must be OnFailure or Never"),
		Entry("Indexed Job without completions", job(func(j *batchv1alpha1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}), "spec.completions", "is required when spec.completionMode is Indexed"),
		Entry("backoffLimitPerIndex on a NonIndexed Job", job(func(j *batchv1alpha1.Job) {
			j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		}), "spec.backoffLimitPerIndex", "requires spec.completionMode Indexed"),
		Entry("Job podFailurePolicy exit-code operator Maybe", job(func(j *batchv1alpha1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: "Maybe", Values: []int32{1}}}}}
		}), "spec.podFailurePolicy.rules[0].onExitCodes.operator", `Unsupported value: "Maybe"`),
		Entry("Job activeDeadlineSeconds 0", job(func(j *batchv1alpha1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }),
			"spec.activeDeadlineSeconds", "must be greater than 0"),
		Entry("CronJob schedule in words", cronJob(func(cj *batchv1alpha1.CronJob) { cj.Spec.Schedule = "every minute" }),
			"spec.schedule", `Invalid value: "every minute"`),
		Entry("CronJob schedule with TZ=", cronJob(func(cj *batchv1alpha1.CronJob) { cj.Spec.Schedule = "TZ=UTC * * * * *" }),
			"spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
		Entry("CronJob unknown timeZone", cronJob(func(cj *batchv1alpha1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus_Mons") }),
			"spec.timeZone", "unknown time zone"),
		Entry("CronJob job template restartPolicy Always", cronJob(func(cj *batchv1alpha1.CronJob) {
			cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}), "spec.jobTemplate.spec.template.spec.restartPolicy", "must be OnFailure or Never"),
		Entry("CronJob name longer than 52 characters", cronJob(func(cj *batchv1alpha1.CronJob) { cj.Name = strings.Repeat("c", 53) }),
			"metadata.name", "must be no more than 52 characters"),

		// Services, EndpointSlices and Nodes: what the proxy and the agents turn into rules.
		Entry("Service clusterIP with a newline", service(func(s *corev1.ServiceSpec) { s.ClusterIP = "10.96.0.10\nflush ruleset" }),
			"spec.clusterIPs[0]", "must be a valid IP address"),
		Entry("Service port 70000", service(func(s *corev1.ServiceSpec) { s.Ports[0].Port = 70000 }),
			"spec.ports[0].port", "must be between 1 and 65535"),
		Entry("Service protocol FOO", service(func(s *corev1.ServiceSpec) { s.Ports[0].Protocol = "FOO" }),
			"spec.ports[0].protocol", "Unsupported value"),
		Entry("Service nodePort on a ClusterIP Service", service(func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 22 }),
			"spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"),
		Entry("Service unknown type", service(func(s *corev1.ServiceSpec) { s.Type = "Everywhere" }),
			"spec.type", "Unsupported value"),
		Entry("Service two ports without names", service(func(s *corev1.ServiceSpec) {
			s.Ports = append(s.Ports, corev1.ServicePort{Port: 81, Protocol: corev1.ProtocolTCP})
		}),
			"spec.ports[0].name", "Required value"),
		Entry("Service targetPort 70000", service(func(s *corev1.ServiceSpec) { s.Ports[0].TargetPort = intstr.FromInt32(70000) }),
			"spec.ports[0].targetPort", "must be between 1 and 65535"),
		Entry("Service ExternalName that is not a DNS name", service(func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName, s.Selector = corev1.ServiceTypeExternalName, "evil name;", nil
		}), "spec.externalName", "a lowercase RFC 1123 subdomain"),
		Entry("Service clusterIP and clusterIPs that differ", service(func(s *corev1.ServiceSpec) {
			s.ClusterIP, s.ClusterIPs = "10.96.0.10", []string{"10.96.0.11"}
		}), "spec.clusterIPs", "first value must match `clusterIP`"),
		Entry("EndpointSlice address that is not IPv4", endpointSlice(func(e *corev1alpha1.EndpointSlice) {
			e.Endpoints[0].Addresses = []string{"10.244.1.5; flush ruleset"}
		}), "endpoints[0].addresses[0]", "must be a valid IP address"),
		Entry("EndpointSlice port name that is not a DNS label", endpointSlice(func(e *corev1alpha1.EndpointSlice) {
			e.Ports[0].Name = ptr.To("HTTP Port")
		}), "ports[0].name", "a lowercase RFC 1123 label"),
		Entry("EndpointSlice hostname that is not a DNS label", endpointSlice(func(e *corev1alpha1.EndpointSlice) {
			e.Endpoints[0].Hostname = ptr.To("../pod")
		}), "endpoints[0].hostname", "a lowercase RFC 1123 label"),
		Entry("Node podCIDR that is not a CIDR", node(func(n *corev1alpha1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", []string{"10.244.9.0/33"} }),
			"spec.podCIDRs[0]", "must be a valid CIDR value"),
		Entry("Node taint with an unknown effect", node(func(n *corev1alpha1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: "Sometimes"}}
		}), "metadata.taints[0].effect", "Unsupported value"),

		// HorizontalPodAutoscalers.
		Entry("autoscaler target without a kind", autoscaler(func(h *autoscalingv1alpha1.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "" }),
			"spec.scaleTargetRef.kind", "Required value"),
		Entry("autoscaler Resource metric without its resource", autoscaler(func(h *autoscalingv1alpha1.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType}}
		}), "spec.metrics[0].resource", "Required value"),
		Entry("autoscaler scale-up policy of 0 seconds", autoscaler(func(h *autoscalingv1alpha1.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
				Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 0}}}}
		}), "spec.behavior.scaleUp.policies[0].periodSeconds", "must be greater than zero"),
	)

	It("refuses a change to a Service's allocated clusterIP, and to clusterIPs alone", func() {
		svc := service(func(*corev1.ServiceSpec) {})(ns).(*corev1alpha1.Service)
		svc.Spec.ClusterIP = "10.96.201.7"
		Expect(k8sClient.Create(ctx, svc)).To(Succeed())
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.201.8", nil
		err := k8sClient.Update(ctx, svc)
		expectInvalid(err, "spec.clusterIP")
		Expect(err.Error()).To(ContainSubstring("immutable once set"))

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(svc), svc)).To(Succeed())
		svc.Spec.ClusterIPs = []string{"10.96.201.8"}
		err = k8sClient.Update(ctx, svc)
		expectInvalid(err, "spec.clusterIPs")
		Expect(err.Error()).To(ContainSubstring("first value must match `clusterIP`"))
	})

	It("lets a node be given a podCIDR once, and refuses to change it or to set podCIDRs apart from it", func() {
		n := node(func(n *corev1alpha1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil })(ns).(*corev1alpha1.Node)
		Expect(k8sClient.Create(ctx, n)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, n))).To(Succeed()) })
		n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.9.0/24", []string{"10.244.9.0/24"}
		Expect(k8sClient.Update(ctx, n)).To(Succeed())
		n.Spec.PodCIDRs = []string{"10.244.10.0/24"}
		err := k8sClient.Update(ctx, n)
		expectInvalid(err, "spec.podCIDRs[0]")
		Expect(err.Error()).To(ContainSubstring("must match spec.podCIDR"))
		n.Spec.PodCIDR = "10.244.10.0/24"
		expectInvalid(k8sClient.Update(ctx, n), "spec.podCIDR")
	})

	It("refuses an update upstream refuses: a Job's template, a StatefulSet's podManagementPolicy", func() {
		j := job(func(*batchv1alpha1.Job) {})(ns).(*batchv1alpha1.Job)
		Expect(k8sClient.Create(ctx, j)).To(Succeed())
		j.Spec.Template.Spec.Containers[0].Image = "busybox:2"
		expectInvalid(k8sClient.Update(ctx, j), "spec.template")

		s := statefulSet(func(*appsv1alpha1.StatefulSet) {})(ns).(*appsv1alpha1.StatefulSet)
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		err := k8sClient.Update(ctx, s)
		expectInvalid(err, "spec.podManagementPolicy")
		Expect(err.Error()).To(ContainSubstring("is immutable"))
	})
})
