package cmd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kybern/kybern/kubectl-kybern/cmd"
	"github.com/kybern/kybern/test/testenv"
)

var (
	env *testenv.Env
	k8s client.Client
	ctx context.Context
)

func TestKubectlKybern(t *testing.T) { testenv.RunSuite(t, "kubectl-kybern suite") }

// The commands run against the CRDs alone: the tests set the statuses, ReplicaSets and
// ControllerRevisions kybern's controllers would.
var _ = testenv.DeclareSuite(testenv.SuiteSpec{}, func(s *testenv.Suite) {
	env, k8s, ctx = s.Env, s.Env.Client, s.Ctx
})

func newNamespace() string {
	ns, err := env.NewNamespace(ctx, "kybern-cli")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ns
}

// result is what a run of the plugin showed: its standard output, its standard error
// (with the error main reports, as kubectl formats it) and its exit code.
type result struct {
	Out, Err string
	Code     int
}

// kybern runs the plugin in-process against the suite's apiserver and returns once it ends.
func kybern(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(ctx, &out, &errOut, args...)
	return result{Out: out.String(), Err: errOut.String(), Code: code}
}

// fatal guards cmdutil's process-wide fatal error handler, which run points at its own
// stderr while it reports an error.
var fatal sync.Mutex

// run runs the plugin as main does, writing to out and errOut, and returns the exit code
// main would exit with.
func run(ctx context.Context, out, errOut io.Writer, args ...string) int {
	root := cmd.NewRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	root.SetArgs(append([]string{"--kubeconfig", env.Kubeconfig}, args...))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fatal.Lock()
	defer fatal.Unlock()
	code := 0
	cmdutil.BehaviorOnFatal(func(msg string, c int) {
		code = c
		if msg != "" && !strings.HasSuffix(msg, "\n") {
			msg += "\n"
		}
		fmt.Fprint(errOut, msg)
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	cmdutil.CheckErr(err)
	return code
}

func labels(app string) map[string]string { return map[string]string{"app": app} }

func template(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels(app)},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1"}},
			Containers:     []corev1.Container{{Name: app, Image: image}},
		},
	}
}
