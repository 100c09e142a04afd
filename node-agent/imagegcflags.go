package main

import (
	"flag"

	"github.com/kybern/kybern/node-agent/imagegc"
)

// imageGCOptions are the kubelet's image garbage collection flags, with upstream's
// defaults.
type imageGCOptions struct {
	policy imagegc.Policy
}

func (o *imageGCOptions) bind(fs *flag.FlagSet) {
	d := imagegc.DefaultPolicy
	fs.IntVar(&o.policy.HighThresholdPercent, "image-gc-high-threshold", d.HighThresholdPercent, "The percent of the image filesystem's space in use at which unused images are deleted, every 5 min, least recently used first; 100 turns that off (under disk pressure eviction still deletes them).")
	fs.IntVar(&o.policy.LowThresholdPercent, "image-gc-low-threshold", d.LowThresholdPercent, "The percent of the image filesystem's space in use that image garbage collection deletes down to; less than --image-gc-high-threshold.")
	fs.DurationVar(&o.policy.MinAge, "minimum-image-ttl-duration", d.MinAge, "How long after the agent first sees an image it may not be deleted as unused.")
	fs.DurationVar(&o.policy.MaxAge, "image-maximum-gc-age", 0, "An image unused for longer is deleted whatever the disk usage; 0 turns that off. Counts only once the agent has run that long.")
}
