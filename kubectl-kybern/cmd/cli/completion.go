package cli

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CompletionFunc completes a command's arguments for cobra's shell completion.
type CompletionFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// CompleteResources completes resource arguments of the given kinds: the first argument
// to a kind's name, then to the names of that kind's objects; TYPE/NAME arguments to the
// names of TYPE's objects.
func CompleteResources(f *Factory, kinds ...*Kind) CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if typ, _, slashed := strings.Cut(toComplete, "/"); slashed {
			k, err := LookupKind(typ)
			if err != nil || !slices.Contains(kinds, k) {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, n := range f.objectNames(cmd.Context(), k) {
				out = append(out, typ+"/"+n)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		if len(args) == 0 {
			var out []string
			for _, k := range kinds {
				out = append(out, k.Singular())
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		k, err := LookupKind(args[0])
		if err != nil || !slices.Contains(kinds, k) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return unused(f.objectNames(cmd.Context(), k), args[1:]), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteNames completes arguments that are names of k's objects, as cordon NODE takes.
func CompleteNames(f *Factory, k *Kind) CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return unused(f.objectNames(cmd.Context(), k), args), cobra.ShellCompDirectiveNoFileComp
	}
}

// objectNames lists the names of k's objects in the command's namespace; none when they
// cannot be read, since completion has nowhere to report why.
func (f *Factory) objectNames(ctx context.Context, k *Kind) []string {
	ns, _, err := f.Namespace()
	if err != nil {
		return nil
	}
	c, err := f.Client()
	if err != nil {
		return nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List"))
	if err := c.List(ctx, list, client.InNamespace(k.namespace(ns))); err != nil {
		return nil
	}
	names := make([]string, 0, len(list.Items))
	for _, item := range list.Items {
		names = append(names, item.Name)
	}
	return names
}

func unused(names, given []string) []string {
	return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(given, n) })
}
