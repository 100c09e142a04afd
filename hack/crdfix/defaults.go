package main

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// fieldDefault is a value the apiserver fills in when a request leaves the field out,
// persisted so that `kubectl get -o yaml` shows it, as upstream's defaulting does.
type fieldDefault struct {
	// path is dot-separated from the schema root; "[]" steps into list items.
	path string
	// value is JSON.
	value string
}

// podSpecDefaults are upstream's constant pod defaults, relative to a PodSpec. Defaults that
// depend on other fields (imagePullPolicy on the image tag) are the node agent's to apply.
func podSpecDefaults(restartPolicy bool) []fieldDefault {
	d := []fieldDefault{
		{"terminationGracePeriodSeconds", `30`},
		{"dnsPolicy", `"ClusterFirst"`},
		{"schedulerName", `"default-scheduler"`},
		{"enableServiceLinks", `true`},
		{"securityContext", `{}`},
		{"volumes[].secret.defaultMode", `420`},
		{"volumes[].configMap.defaultMode", `420`},
		{"volumes[].downwardAPI.defaultMode", `420`},
		{"volumes[].projected.defaultMode", `420`},
	}
	// A Job's pods must say OnFailure or Never themselves: no default, as upstream.
	if restartPolicy {
		d = append(d, fieldDefault{"restartPolicy", `"Always"`})
	}
	for _, c := range []string{"containers[]", "initContainers[]"} {
		d = append(d,
			fieldDefault{c + ".terminationMessagePath", `"/dev/termination-log"`},
			fieldDefault{c + ".terminationMessagePolicy", `"File"`},
		)
		for _, p := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
			probe := c + "." + p
			d = append(d,
				fieldDefault{probe + ".timeoutSeconds", `1`},
				fieldDefault{probe + ".periodSeconds", `10`},
				fieldDefault{probe + ".successThreshold", `1`},
				fieldDefault{probe + ".failureThreshold", `3`},
				fieldDefault{probe + ".httpGet.path", `"/"`},
				fieldDefault{probe + ".httpGet.scheme", `"HTTP"`},
			)
		}
	}
	return d
}

// under prefixes every path of ds with prefix.
func under(prefix string, ds []fieldDefault) []fieldDefault {
	out := make([]fieldDefault, len(ds))
	for i, d := range ds {
		out[i] = fieldDefault{prefix + "." + d.path, d.value}
	}
	return out
}

// defaultsByCRD lists the defaults of each CRD, by CRD name. A schema default applies only
// where its parent object is present, so a rolling-update strategy is defaulted whole when
// absent and field by field when given in part; a controller still treats a missing
// rollingUpdate of a RollingUpdate strategy as upstream's 25% / 25%.
func defaultsByCRD() map[string][]fieldDefault {
	return map[string][]fieldDefault{
		"pods.core.kybern.io": under("spec", podSpecDefaults(true)),
		"services.core.kybern.io": {
			{"spec.type", `"ClusterIP"`},
			{"spec.sessionAffinity", `"None"`},
		},
		"replicasets.apps.kybern.io": append([]fieldDefault{
			{"spec.replicas", `1`},
		}, under("spec.template.spec", podSpecDefaults(true))...),
		"deployments.apps.kybern.io": append([]fieldDefault{
			{"spec.replicas", `1`},
			{"spec.revisionHistoryLimit", `10`},
			{"spec.progressDeadlineSeconds", `600`},
			{"spec.strategy", `{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}`},
			{"spec.strategy.type", `"RollingUpdate"`},
			{"spec.strategy.rollingUpdate.maxUnavailable", `"25%"`},
			{"spec.strategy.rollingUpdate.maxSurge", `"25%"`},
		}, under("spec.template.spec", podSpecDefaults(true))...),
		"daemonsets.apps.kybern.io": append([]fieldDefault{
			{"spec.revisionHistoryLimit", `10`},
			{"spec.updateStrategy", `{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}`},
			{"spec.updateStrategy.type", `"RollingUpdate"`},
			{"spec.updateStrategy.rollingUpdate.maxUnavailable", `1`},
			{"spec.updateStrategy.rollingUpdate.maxSurge", `0`},
		}, under("spec.template.spec", podSpecDefaults(true))...),
		"statefulsets.apps.kybern.io": append([]fieldDefault{
			{"spec.replicas", `1`},
			{"spec.revisionHistoryLimit", `10`},
			{"spec.podManagementPolicy", `"OrderedReady"`},
			{"spec.updateStrategy", `{"type":"RollingUpdate","rollingUpdate":{"partition":0}}`},
			{"spec.updateStrategy.type", `"RollingUpdate"`},
			{"spec.updateStrategy.rollingUpdate.partition", `0`},
			{"spec.persistentVolumeClaimRetentionPolicy", `{"whenDeleted":"Retain","whenScaled":"Retain"}`},
			{"spec.persistentVolumeClaimRetentionPolicy.whenDeleted", `"Retain"`},
			{"spec.persistentVolumeClaimRetentionPolicy.whenScaled", `"Retain"`},
		}, under("spec.template.spec", podSpecDefaults(true))...),
		"jobs.batch.kybern.io": append([]fieldDefault{
			{"spec.completionMode", `"NonIndexed"`},
			{"spec.suspend", `false`},
		}, under("spec.template.spec", podSpecDefaults(false))...),
		"cronjobs.batch.kybern.io": append([]fieldDefault{
			{"spec.concurrencyPolicy", `"Allow"`},
			{"spec.suspend", `false`},
			{"spec.successfulJobsHistoryLimit", `3`},
			{"spec.failedJobsHistoryLimit", `1`},
			{"spec.jobTemplate.spec.completionMode", `"NonIndexed"`},
			{"spec.jobTemplate.spec.suspend", `false`},
		}, under("spec.jobTemplate.spec.template.spec", podSpecDefaults(false))...),
		"horizontalpodautoscalers.autoscaling.kybern.io": {
			{"spec.minReplicas", `1`},
		},
	}
}

// setDefaults writes each default into the schema at its path. A path the schema lacks is
// an error: upstream types changed and the table must follow.
func setDefaults(root *apiextensionsv1.JSONSchemaProps, ds []fieldDefault) error {
	for _, d := range ds {
		if err := setAt(root, strings.Split(d.path, "."), &apiextensionsv1.JSON{Raw: []byte(d.value)}); err != nil {
			return fmt.Errorf("default for %s: %w", d.path, err)
		}
	}
	return nil
}

// setAt sets the default of the schema that steps lead to from s.
func setAt(s *apiextensionsv1.JSONSchemaProps, steps []string, def *apiextensionsv1.JSON) error {
	if len(steps) == 0 {
		s.Default = def
		return nil
	}
	name, list := strings.CutSuffix(steps[0], "[]")
	p, ok := s.Properties[name]
	if !ok {
		return fmt.Errorf("the schema has no property %q", name)
	}
	target := &p
	if list {
		if p.Items == nil || p.Items.Schema == nil {
			return fmt.Errorf("%q is not a list", name)
		}
		target = p.Items.Schema
	}
	if err := setAt(target, steps[1:], def); err != nil {
		return err
	}
	s.Properties[name] = p
	return nil
}
