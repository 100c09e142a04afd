// Package containerlogs is the layout of a container's log files across rotation, which
// the log driver (node-agent/logdriver) writes, the agent's API (node-agent/server) reads
// and the eviction manager measures (with node-agent/diskusage). The current file is
// <attempt>.log; when the driver rotates it, it becomes <attempt>.log.<time of rotation>
// (TimeFormat, UTC), and every rotated file but the newest is compressed to <name>.gz, as
// the kubelet's container log manager names them (pkg/kubelet/logs/container_log_manager.go).
package containerlogs

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	// TimeFormat is the rotation time in a rotated file's name; names sort by it.
	TimeFormat = "20060102-150405"
	// CompressedSuffix ends the name of a compressed rotated file.
	CompressedSuffix = ".gz"
	// TempSuffix ends the name of a compression under way, a leftover once it failed.
	TempSuffix = ".tmp"
)

// RotatedName is the name the current file at path takes when it is rotated at t. The
// kubelet formats local time; UTC keeps the names in time order across a change of
// daylight saving time, and is the same on a node that runs in UTC.
func RotatedName(path string, t time.Time) string {
	return path + "." + t.UTC().Format(TimeFormat)
}

// Rotated lists the rotated files of the log whose current file is path, oldest first,
// and apart from them the leftovers of an interrupted compression: a temporary file, or
// an uncompressed file beside its compressed copy.
func Rotated(path string) (inUse, leftovers []string, err error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	prefix := filepath.Base(path) + "."
	names := map[string]bool{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			names[e.Name()] = true
		}
	}
	for name := range names {
		full := filepath.Join(filepath.Dir(path), name)
		if strings.HasSuffix(name, TempSuffix) || names[name+CompressedSuffix] {
			leftovers = append(leftovers, full)
		} else {
			inUse = append(inUse, full)
		}
	}
	sort.Strings(inUse)
	sort.Strings(leftovers)
	return inUse, leftovers, nil
}
