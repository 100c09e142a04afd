package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kybern/kybern/api/core/v1alpha1"
	"github.com/kybern/kybern/node-agent/podworker"
)

var _ = Describe("Volumes on real containers", Ordered, func() {
	var ns string
	BeforeAll(func() { startAgent("e2e-a") })
	BeforeEach(func() {
		var err error
		ns, err = env.NewPodSecurityNamespace(ctx, "e2e-vol", "privileged")
		Expect(err).NotTo(HaveOccurred())
	})

	It("mounts emptyDir, hostPath, configMap, secret and downwardAPI volumes as the container expects", func() {
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
			Data: map[string]string{"color": "blue", "app.conf": "port=8080"}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
			Data: map[string][]byte{"password": []byte("s3cret")}})).To(Succeed())
		hostDir := filepath.Join(work, "hostpath-"+ns)

		p := newPod(ns, "volumes", corev1.RestartPolicyNever, "sh", "-c", `
echo "shared=$(cat /shared/from-init)"
echo "color=$(cat /etc/cfg/paint/color)"
echo "conf=$(cat /etc/app.conf)"
echo "secret=$(cat /etc/creds/password) mode=$(stat -L -c %a /etc/creds/password) fs=$(grep ' /etc/creds ' /proc/mounts | cut -d' ' -f3)"
echo "memory=$(grep ' /cache ' /proc/mounts | cut -d' ' -f3)"
echo "labels=$(cat /etc/podinfo/labels | tr '\n' ' ')"
echo written > /host/out
touch /etc/cfg/new 2>/dev/null || echo "configmap read-only"
`)
		p.Labels = map[string]string{"app": "volumes"}
		p.Spec.InitContainers = []corev1.Container{{Name: "prepare", Image: "busybox", Command: []string{"sh", "-c", "echo hello > /shared/from-init"},
			VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
			{Name: "shared", MountPath: "/shared"},
			{Name: "cfg", MountPath: "/etc/cfg"},
			{Name: "whole", MountPath: "/etc/app.conf", SubPath: "app.conf"},
			{Name: "creds", MountPath: "/etc/creds"},
			{Name: "cache", MountPath: "/cache"},
			{Name: "podinfo", MountPath: "/etc/podinfo"},
			{Name: "host", MountPath: "/host"},
		}
		p.Spec.Volumes = []corev1.Volume{
			{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"},
				Items: []corev1.KeyToPath{{Key: "color", Path: "paint/color"}}}}},
			{Name: "whole", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}},
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr.To[int32](0o400)}}},
			{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
			{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}},
		}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(current(p)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		// The log driver may still be writing the last lines when the exit is reported.
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("configmap read-only"))
		log, err := logOf(p, "main", 0)()
		Expect(err).NotTo(HaveOccurred())
		for _, line := range []string{"shared=hello", "color=blue", "conf=port=8080", "secret=s3cret mode=400 fs=tmpfs", "memory=tmpfs",
			`labels=app="volumes"`, "configmap read-only"} {
			Expect(log).To(ContainSubstring("stdout F "+line), "in the container's log:\n%s", log)
		}
		Expect(os.ReadFile(filepath.Join(hostDir, "out"))).To(Equal([]byte("written\n")))

		// The subPath reached the container through the agent's pin of the file it checked
		// (mount 2 of container main), which goes with the pod.
		pin := string(p.UID) + "/volume-subpaths/whole/main/2 "
		Expect(mountTable()).To(ContainSubstring(pin))
		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool { _, err := current(p)(); return apierrors.IsNotFound(err) }).Should(BeTrue())
		Expect(mountTable()).NotTo(ContainSubstring(pin))
	})

	It("updates a configMap volume in place when the ConfigMap changes", func() {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "live"}, Data: map[string]string{"color": "blue"}}
		Expect(k8s.Create(ctx, cm)).To(Succeed())
		p := newPod(ns, "watcher", corev1.RestartPolicyAlways, "sh", "-c", "while true; do echo color=$(cat /etc/cfg/color); sleep 1; done")
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "live"}}}}}
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(logOf(p, "main", 0)).Should(ContainSubstring("stdout F color=blue"))
		patch := client.MergeFrom(cm.DeepCopy())
		cm.Data["color"] = "red"
		Expect(k8s.Patch(ctx, cm, patch)).To(Succeed())
		Eventually(logOf(p, "main", 0), 40*time.Second).Should(ContainSubstring("stdout F color=red"))
		Expect(current(p)()).To(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("RestartCount", int32(0)))))

		// The agent follows the ConfigMap with a watch: refreshing the pod's files every
		// 10 s reads it from there, not from the apiserver (before, one GET per object and
		// refresh: three or more in this window).
		gets := apiRequests(Default, "GET", "configmaps")
		Consistently(func(g Gomega) float64 { return apiRequests(g, "GET", "configmaps") - gets }, "25s", "5s").Should(BeNumerically("<", 2))
		patch = client.MergeFrom(cm.DeepCopy())
		cm.Data["color"] = "green"
		Expect(k8s.Patch(ctx, cm, patch)).To(Succeed())
		Eventually(logOf(p, "main", 0), 40*time.Second).Should(ContainSubstring("stdout F color=green"))
	})

	It("keeps a persistentVolumeClaim's data on its node across pods", func() {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		Expect(k8s.Create(ctx, pvc)).To(Succeed())
		withData := func(name string, command ...string) *corev1alpha1.Pod {
			p := newPod(ns, name, corev1.RestartPolicyNever, command...)
			// The scheduler picks the claim's node, and then sends the reader there.
			p.Spec.NodeName = ""
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
			return p
		}
		writer := withData("writer", "sh", "-c", "echo kept > /data/file")
		Expect(k8s.Create(ctx, writer)).To(Succeed())
		Eventually(current(writer)).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		written, err := current(writer)()
		Expect(err).NotTo(HaveOccurred())
		node := written.Spec.NodeName
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pvc), pvc)).To(Succeed())
		Expect(pvc.Annotations).To(HaveKeyWithValue("volume.kubernetes.io/selected-node", node))
		Expect(pvc.Status.Phase).To(Equal(corev1.ClaimBound))
		Expect(k8s.Delete(ctx, writer)).To(Succeed())
		Eventually(func() bool {
			_, err := current(writer)()
			return apierrors.IsNotFound(err)
		}).Should(BeTrue())

		reader := withData("reader", "cat", "/data/file")
		Expect(k8s.Create(ctx, reader)).To(Succeed())
		Eventually(current(reader)).Should(And(HaveField("Status.Phase", corev1.PodSucceeded), HaveField("Spec.NodeName", node)))
		Eventually(logOf(reader, "main", 0)).Should(ContainSubstring("stdout F kept"))
	})

	It("says why a volume cannot be set up, and starts the pod once its ConfigMap appears", func() {
		missingDir := newPod(ns, "nodir", corev1.RestartPolicyNever, "true")
		missingDir.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		missingDir.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: filepath.Join(work, "does-not-exist"), Type: ptr.To(corev1.HostPathDirectory)}}}}
		late := newPod(ns, "late", corev1.RestartPolicyNever, "cat", "/etc/cfg/color")
		late.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}}
		late.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}}}}
		Expect(k8s.Create(ctx, missingDir)).To(Succeed())
		Expect(k8s.Create(ctx, late)).To(Succeed())
		Eventually(current(missingDir)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Message",
			And(ContainSubstring(`MountVolume.SetUp failed for volume "data"`), ContainSubstring("hostPath type check failed"), ContainSubstring("is not a directory"))))))
		Eventually(current(late)).Should(HaveField("Status.ContainerStatuses", ConsistOf(HaveField("State.Waiting.Message",
			`MountVolume.SetUp failed for volume "cfg" : configmap "late" not found`))))
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "late"}, Data: map[string]string{"color": "green"}})).To(Succeed())
		Eventually(current(late), 30*time.Second).Should(HaveField("Status.Phase", corev1.PodSucceeded))
		// cat prints no newline: the line is written as a part once it waited, or whole at EOF.
		Eventually(logOf(late, "main", 0)).Should(MatchRegexp(`stdout [PF] green\n`))
	})
	It("refuses a volume name that climbs out of the pod's directory, and a subPath through a planted symlink", func() {
		victim := filepath.Join(os.TempDir(), "kybern-victim-"+ns)
		climber := newPod(ns, "climber", corev1.RestartPolicyNever, "true")
		climber.Spec.Volumes = []corev1.Volume{{Name: strings.Repeat("../", 20) + strings.TrimPrefix(victim, "/"),
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		err := k8s.Create(ctx, climber)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "admission refuses the name: %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.volumes[0].name"))
		// An object stored before admission checked it still never leaves the pod's directory.
		withoutAdmission(func() { Expect(k8s.Create(ctx, climber)).To(Succeed()) })
		Eventually(current(climber)).Should(And(HaveField("Status.Phase", corev1.PodFailed), HaveField("Status.Reason", podworker.ReasonRejected),
			HaveField("Status.Message", ContainSubstring("spec.volumes[0].name"))))
		Expect(victim).NotTo(BeAnExistingFile())

		// The init container plants a link to / in the shared volume; the main container's
		// subPath through it must not mount the host's root.
		planted := newPod(ns, "planted", corev1.RestartPolicyNever, "ls", "/host")
		planted.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		planted.Spec.InitContainers = []corev1.Container{{Name: "plant", Image: "busybox", Command: []string{"ln", "-s", "/", "/shared/escape"},
			VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}}}
		planted.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/host", SubPath: "escape"}}
		Expect(k8s.Create(ctx, planted)).To(Succeed())
		Eventually(func(g Gomega) {
			got, err := current(planted)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Status.ContainerStatuses).To(ConsistOf(HaveField("State.Waiting", And(Not(BeNil()),
				HaveField("Reason", "CreateContainerConfigError"), HaveField("Message", ContainSubstring("symlink"))))))
		}).Should(Succeed())
	})
})

// mountTable is the host's mount table, as the node agent sees it.
func mountTable() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	return string(b), err
}
