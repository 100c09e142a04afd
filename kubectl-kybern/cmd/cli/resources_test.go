package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseResources(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		selector  string
		selectAll bool
		named     []Ref
		all       []*Kind
		err       string
	}{
		{name: "type/name", args: []string{"deployment/web"}, named: []Ref{{Deployment, "web"}}},
		{name: "plural type/name", args: []string{"deployments/web"}, named: []Ref{{Deployment, "web"}}},
		{name: "kybern short name", args: []string{"kydeploy/web"}, named: []Ref{{Deployment, "web"}}},
		{name: "kybern group", args: []string{"deployment.apps.kybern.io/web"}, named: []Ref{{Deployment, "web"}}},
		{name: "several type/name", args: []string{"sts/db", "ds/agent"}, named: []Ref{{StatefulSet, "db"}, {DaemonSet, "agent"}}},
		{name: "type name", args: []string{"deploy", "web"}, named: []Ref{{Deployment, "web"}}},
		{name: "type names", args: []string{"statefulset", "a", "b"}, named: []Ref{{StatefulSet, "a"}, {StatefulSet, "b"}}},
		{name: "types name", args: []string{"deploy,sts", "web"}, named: []Ref{{Deployment, "web"}, {StatefulSet, "web"}}},
		{name: "type with selector", args: []string{"deployment"}, selector: "app=web", all: []*Kind{Deployment}},
		{name: "types with all", args: []string{"deployments,daemonsets"}, selectAll: true, all: []*Kind{Deployment, DaemonSet}},
		{name: "no arguments", err: "required resource not specified"},
		{name: "type alone", args: []string{"deployment"}, err: "resource(s) were provided, but no name was specified"},
		{name: "names with selector", args: []string{"deployment", "web"}, selector: "app=web", err: "name cannot be provided when a selector is specified"},
		{name: "type/name with selector", args: []string{"deployment/web"}, selector: "app=web", err: "selectors and the all flag cannot be used"},
		{name: "mixed forms", args: []string{"deployment", "deployment/web"}, err: "there is no need to specify a resource type as a separate argument"},
		{name: "two slashes", args: []string{"deployment/web/x"}, err: "may not have more than one slash"},
		{name: "empty name", args: []string{"deployment/"}, err: "must have a single resource and name"},
		{name: "types in type/name", args: []string{"deploy,sts/web"}, err: "must have a single resource and name"},
		{name: "unknown type", args: []string{"widget/x"}, err: `the server doesn't have a resource type "widget"`},
		{name: "bad selector", args: []string{"deployment"}, selector: "a=(", err: "invalid label selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := ParseResources(tc.args, tc.selector, tc.selectAll)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sel.Named, tc.named) || !reflect.DeepEqual(sel.All, tc.all) {
				t.Errorf("selection = %+v / %+v, want %+v / %+v", sel.Named, sel.All, tc.named, tc.all)
			}
			if tc.all != nil && sel.Selector.String() != tc.selector {
				t.Errorf("selector = %q, want %q", sel.Selector, tc.selector)
			}
		})
	}
}
