// Package nft runs nftables scripts for the node agent's tables (the service proxy's and
// the apiserver relay's), each of which one component owns and rewrites whole.
package nft

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
)

// Run runs script as one nftables transaction.
func Run(ctx context.Context, script string) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = bytes.NewBufferString(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// DeleteTable removes table (family ip), if there is one.
func DeleteTable(ctx context.Context, table string) error {
	return Run(ctx, fmt.Sprintf("add table ip %s\ndelete table ip %s\n", table, table))
}

var notInName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// TableName is prefix and node, with the characters nftables does not take in a name
// replaced by '_'.
func TableName(prefix, node string) string {
	return prefix + notInName.ReplaceAllString(node, "_")
}
