package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Ref names one object: its kind and name.
type Ref struct {
	Kind *Kind
	Name string
}

// Selection is what a command's resource arguments select: objects by name, or every
// object of some kinds that a label selector matches.
type Selection struct {
	// Named are the objects TYPE NAME... or TYPE/NAME... arguments name, in order.
	Named []Ref
	// All are the kinds given without names; Selector picks their objects.
	All []*Kind
	// Selector is the label selector for All; empty selects every object.
	Selector labels.Selector
}

// ErrNoResource is the error of a command given no resource argument.
var ErrNoResource = errors.New("required resource not specified")

// ParseResources parses resource arguments as kubectl's resource builder does:
// TYPE/NAME..., TYPE NAME..., TYPE1,TYPE2 NAME... (every type with every name), or types
// alone, which select every object of those types that selector matches. Types alone are
// refused when selector is empty and selectAll is false (kubectl's --all, or true for the
// commands that select all by default). TYPE is any name LookupKind resolves.
func ParseResources(args []string, selector string, selectAll bool) (Selection, error) {
	if len(args) == 0 {
		return Selection{}, ErrNoResource
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return Selection{}, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	slashes := 0
	for _, a := range args {
		if strings.Contains(a, "/") {
			slashes++
		}
	}
	switch {
	case slashes == len(args):
		if selector != "" {
			return Selection{}, errors.New("selectors and the all flag cannot be used when passing resource/name arguments")
		}
		return parseTypeNames(args)
	case slashes > 0:
		return Selection{}, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. '%[1]s/<name>' instead of '%[1]s %[1]s/<name>')", strings.Split(args[0], "/")[0])
	}
	kinds, err := lookupKinds(args[0])
	if err != nil {
		return Selection{}, err
	}
	names := args[1:]
	if len(names) == 0 {
		if selector == "" && !selectAll {
			return Selection{}, errors.New("resource(s) were provided, but no name was specified")
		}
		return Selection{All: kinds, Selector: sel}, nil
	}
	if selector != "" {
		return Selection{}, errors.New("name cannot be provided when a selector is specified")
	}
	var out Selection
	for _, k := range kinds {
		for _, n := range names {
			out.Named = append(out.Named, Ref{Kind: k, Name: n})
		}
	}
	return out, nil
}

func parseTypeNames(args []string) (Selection, error) {
	var out Selection
	for _, a := range args {
		parts := strings.Split(a, "/")
		if len(parts) != 2 {
			return Selection{}, errors.New("arguments in resource/name form may not have more than one slash")
		}
		if parts[0] == "" || parts[1] == "" || strings.Contains(parts[0], ",") {
			return Selection{}, errors.New("arguments in resource/name form must have a single resource and name")
		}
		k, err := LookupKind(parts[0])
		if err != nil {
			return Selection{}, err
		}
		out.Named = append(out.Named, Ref{Kind: k, Name: parts[1]})
	}
	return out, nil
}

func lookupKinds(types string) ([]*Kind, error) {
	var kinds []*Kind
	for _, t := range strings.Split(types, ",") {
		if t == "" {
			continue
		}
		k, err := LookupKind(t)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, k)
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("the server doesn't have a resource type %q", types)
	}
	return kinds, nil
}

// Target is an object a command acts on, as the API server returned it.
type Target struct {
	Kind   *Kind
	Object *unstructured.Unstructured
}

// Name is the target's name in output: deployment.apps.kybern.io/web.
func (t Target) Name() string { return t.Kind.ObjectName(t.Object.GetName()) }

// Fetch reads what s selects from namespace (cluster-scoped kinds ignore it): each named
// object, then the objects of each kind given alone that the selector matches, sorted by
// name. As kubectl's builder, it reads every object it can: the error aggregates those it
// could not read, each naming its object.
func (s Selection) Fetch(ctx context.Context, c client.Reader, namespace string) ([]Target, error) {
	var out []Target
	var errs []error
	for _, ref := range s.Named {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(ref.Kind.GVK)
		if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Kind.namespace(namespace), Name: ref.Name}, obj); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Target{Kind: ref.Kind, Object: obj})
	}
	for _, k := range s.All {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List"))
		opts := []client.ListOption{client.InNamespace(k.namespace(namespace))}
		if s.Selector != nil && !s.Selector.Empty() {
			opts = append(opts, client.MatchingLabelsSelector{Selector: s.Selector})
		}
		if err := c.List(ctx, list, opts...); err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range list.Items {
			out = append(out, Target{Kind: k, Object: &list.Items[i]})
		}
	}
	return out, utilerrors.NewAggregate(errs)
}

func (k *Kind) namespace(ns string) string {
	if !k.Namespaced {
		return ""
	}
	return ns
}

// Resolved is what a command's resource arguments came to.
type Resolved struct {
	// Client is the client the objects were read with.
	Client client.WithWatch
	// Namespace is the command's namespace.
	Namespace string
	// Targets are the objects read.
	Targets []Target
	// Errors are the reads that failed, each naming its object. Commands act on Targets
	// regardless and report Errors with their own, as kubectl continues on such errors.
	Errors []error
}

// Resolve parses args as ParseResources does and fetches what they select from the
// command's namespace.
func (f *Factory) Resolve(ctx context.Context, args []string, selector string, selectAll bool) (*Resolved, error) {
	sel, err := ParseResources(args, selector, selectAll)
	if err != nil {
		return nil, err
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, err
	}
	c, err := f.Client()
	if err != nil {
		return nil, err
	}
	targets, err := sel.Fetch(ctx, c, ns)
	r := &Resolved{Client: c, Namespace: ns, Targets: targets}
	if agg, ok := err.(utilerrors.Aggregate); ok {
		r.Errors = agg.Errors()
	}
	return r, nil
}

// Empty reports, as kubectl does, that nothing was selected and nothing failed: "No
// resources found in <namespace> namespace." on w.
func (r *Resolved) Empty(w io.Writer) bool {
	if len(r.Targets) > 0 || len(r.Errors) > 0 {
		return false
	}
	fmt.Fprintf(w, "No resources found in %s namespace.\n", r.Namespace)
	return true
}
