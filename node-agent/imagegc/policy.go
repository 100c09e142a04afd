package imagegc

import (
	"errors"
	"fmt"
	"time"
)

// Policy is when images are collected, upstream's ImageGCPolicy.
type Policy struct {
	// HighThresholdPercent is the image filesystem's usage, in percent, at which unused
	// images are deleted (--image-gc-high-threshold, 85); 100 turns periodic collection off.
	HighThresholdPercent int
	// LowThresholdPercent is the usage collection deletes down to (--image-gc-low-threshold, 80).
	LowThresholdPercent int
	// MinAge is how long after it was first seen an image may not be deleted
	// (--minimum-image-ttl-duration, 2m): one just pulled is about to be used.
	MinAge time.Duration
	// MaxAge, when not zero, deletes an image unused for longer whatever the usage
	// (--image-maximum-gc-age).
	MaxAge time.Duration
}

// DefaultPolicy is upstream's defaults.
var DefaultPolicy = Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute}

// Validate checks p as the kubelet checks its configuration
// (pkg/kubelet/apis/config/validation): both thresholds within [0, 100], the low one below
// the high one, a maximum age not negative and, when set, above the minimum age. Each
// error names its flag.
func (p Policy) Validate() error {
	var errs []error
	if p.HighThresholdPercent < 0 || p.HighThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("--image-gc-high-threshold=%d: must be between 0 and 100, inclusive", p.HighThresholdPercent))
	}
	if p.LowThresholdPercent < 0 || p.LowThresholdPercent > 100 {
		errs = append(errs, fmt.Errorf("--image-gc-low-threshold=%d: must be between 0 and 100, inclusive", p.LowThresholdPercent))
	}
	if p.LowThresholdPercent >= p.HighThresholdPercent {
		errs = append(errs, fmt.Errorf("--image-gc-low-threshold=%d: must be less than --image-gc-high-threshold=%d", p.LowThresholdPercent, p.HighThresholdPercent))
	}
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("--image-maximum-gc-age=%s: must not be negative (0 turns it off)", p.MaxAge))
	}
	if p.MaxAge > 0 && p.MaxAge <= p.MinAge {
		errs = append(errs, fmt.Errorf("--image-maximum-gc-age=%s: must be greater than --minimum-image-ttl-duration=%s", p.MaxAge, p.MinAge))
	}
	return errors.Join(errs...)
}

// periodic says whether images are collected every period; upstream's kubelet starts no
// image collection at a high threshold of 100.
func (p Policy) periodic() bool { return p.HighThresholdPercent < 100 }
