package e2e

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"

	. "github.com/onsi/gomega"

	"k8s.io/client-go/kubernetes"
)

// apiRequests is how many requests of verb (GET, LIST, WATCH, …) for resource the
// apiserver has served since it started, by its apiserver_request_total counter.
func apiRequests(g Gomega, verb, resource string) float64 {
	cs, err := kubernetes.NewForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	body, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	total := 0.0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") ||
			!strings.Contains(line, `verb="`+verb+`"`) || !strings.Contains(line, `resource="`+resource+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		g.Expect(err).NotTo(HaveOccurred(), line)
		total += v
	}
	return total
}
