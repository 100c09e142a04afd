package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// PrintFlags is the -o flag of a command that reports what it did to objects, printing as
// kubectl's does: by default "<object> <operation>" (deployment.apps.kybern.io/web
// restarted), with -o name the object's name alone, with -o json, yaml, jsonpath=... or
// go-template=... the object itself. Names follow Kind.ObjectName.
type PrintFlags struct {
	flags *genericclioptions.PrintFlags
}

// NewPrintFlags returns PrintFlags defaulting to "<object> <operation>".
func NewPrintFlags() *PrintFlags { return &PrintFlags{flags: genericclioptions.NewPrintFlags("")} }

// AddFlags adds -o and the template flags to cmd.
func (p *PrintFlags) AddFlags(cmd *cobra.Command) { p.flags.AddFlags(cmd) }

// Specified reports whether -o was given.
func (p *PrintFlags) Specified() bool {
	return p.flags.OutputFlagSpecified != nil && p.flags.OutputFlagSpecified()
}

// Validate refuses an output format kubectl's printers do not know.
func (p *PrintFlags) Validate() error {
	_, err := p.flags.ToPrinter()
	return err
}

// Print reports operation on the object named name: obj is what -o json, yaml and the
// templates print, and must carry its apiVersion and kind.
func (p *PrintFlags) Print(w io.Writer, name string, obj runtime.Object, operation string) error {
	switch *p.flags.OutputFormat {
	case "":
		if operation == "" {
			_, err := fmt.Fprintln(w, name)
			return err
		}
		_, err := fmt.Fprintf(w, "%s %s\n", name, operation)
		return err
	case "name":
		_, err := fmt.Fprintln(w, name)
		return err
	}
	printer, err := p.flags.ToPrinter()
	if err != nil {
		return err
	}
	return printer.PrintObj(obj, w)
}

// DryRunOperation is operation as kubectl reports it under --dry-run: "cordoned (dry
// run)", "cordoned (server dry run)".
func DryRunOperation(operation string, strategy cmdutil.DryRunStrategy) string {
	switch strategy {
	case cmdutil.DryRunClient:
		return operation + " (dry run)"
	case cmdutil.DryRunServer:
		return operation + " (server dry run)"
	}
	return operation
}
