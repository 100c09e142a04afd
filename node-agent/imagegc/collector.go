package imagegc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/kybern/kybern/node-agent/runtime"
)

// period is how often images are collected, upstream's ImageGCPeriod.
const period = 5 * time.Minute

// Image is one image of the runtime, by ID: every name of the same content is one image.
type Image struct {
	ID   string
	Size int64
	// Pinned images are never deleted.
	Pinned bool
}

// Runtime is the image store the collector prunes.
type Runtime interface {
	// ListImages lists every image of the node.
	ListImages(ctx context.Context) ([]Image, error)
	// Containers lists every container of the node, running or not; their ImageIDs are
	// the images in use.
	Containers(ctx context.Context) ([]runtime.Container, error)
	// RemoveImage deletes every name of image id, synchronously, so that its space is
	// free when it returns.
	RemoveImage(ctx context.Context, id string) error
}

// Filesystem measures the filesystem the images are on.
type Filesystem interface {
	Usage() (available, capacity int64, err error)
}

// Dir is the filesystem of a directory, measured with statfs(2).
type Dir string

// Usage implements Filesystem.
func (d Dir) Usage() (available, capacity int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(string(d), &st); err != nil {
		return 0, 0, fmt.Errorf("measuring the image filesystem at %s: %w", d, err)
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

// Collector is the node's image garbage collector. Make it with New; Run collects every
// 5 minutes, DeleteUnusedImages may be called at any time from any goroutine.
type Collector struct {
	policy Policy
	rt     Runtime
	fs     Filesystem
	clock  clock.WithTicker
	log    logr.Logger
	// began is when the collector was made: no image is deleted for its maximum age
	// before the agent has run that long, as it could not know when it was last used.
	began time.Time

	// collecting serialises collections: a periodic one and the eviction manager's.
	collecting sync.Mutex
	records    map[string]*record
}

// New makes the collector of rt's images, on fs, with policy, which must be valid.
func New(policy Policy, rt Runtime, fs Filesystem, clk clock.WithTicker, log logr.Logger) *Collector {
	return &Collector{policy: policy, rt: rt, fs: fs, clock: clk, log: log, began: clk.Now(), records: map[string]*record{}}
}

// Run detects the images at once and every 5 minutes until ctx ends, collecting them
// each time unless the high threshold is 100.
func (c *Collector) Run(ctx context.Context) {
	if !c.policy.periodic() {
		c.log.Info("Image garbage collection is off: --image-gc-high-threshold is 100")
	}
	ticker := c.clock.NewTicker(period)
	defer ticker.Stop()
	for {
		var err error
		if c.policy.periodic() {
			err = c.GarbageCollect(ctx)
		} else {
			err = c.detect(ctx)
		}
		if err != nil && ctx.Err() == nil {
			c.log.Error(err, "Image garbage collection failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// GarbageCollect is one periodic collection, as upstream's: it deletes the images unused
// for longer than the maximum age, then, when the image filesystem is used to the high
// threshold or more, unused images least recently used first until what they took adds
// up to what brings it down to the low threshold. Not freeing that much is an error.
func (c *Collector) GarbageCollect(ctx context.Context) error {
	c.collecting.Lock()
	defer c.collecting.Unlock()
	now := c.clock.Now()
	order, err := c.order(ctx, now)
	if err != nil {
		return err
	}
	var errs []error
	if c.policy.MaxAge > 0 && now.Sub(c.began) > c.policy.MaxAge {
		var gone []candidate
		gone, order = old(order, now, c.policy.MaxAge)
		for _, img := range gone {
			if err := c.remove(ctx, img.id); err != nil {
				errs = append(errs, err)
				order = append(order, img)
			}
		}
	}
	available, capacity, err := c.fs.Usage()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if capacity <= 0 {
		return errors.Join(append(errs, errors.New("invalid capacity 0 on the image filesystem"))...)
	}
	available = min(available, capacity)
	usage := 100 - int(available*100/capacity)
	if usage < c.policy.HighThresholdPercent {
		return errors.Join(errs...)
	}
	// Capacity 100 GiB, low threshold 80 %, 10 GiB available: free 20 − 10 = 10 GiB.
	toFree := capacity*int64(100-c.policy.LowThresholdPercent)/100 - available
	c.log.Info("Image filesystem usage is at or above the high threshold: deleting unused images down to the low threshold",
		"usagePercent", usage, "highThresholdPercent", c.policy.HighThresholdPercent, "lowThresholdPercent", c.policy.LowThresholdPercent, "bytesToFree", toFree)
	freed, delErrs := freeSpace(ctx, order, toFree, now, c.policy.MinAge, c.remove)
	errs = append(errs, delErrs...)
	if freed < toFree {
		errs = append(errs, fmt.Errorf("freed %d bytes of the %d needed to bring the image filesystem down to %d%%: no more unused images old enough",
			freed, toFree, c.policy.LowThresholdPercent))
	}
	return errors.Join(errs...)
}

// DeleteUnusedImages deletes every unused image that is not pinned and is older than the
// minimum age, whatever the thresholds, as the eviction manager asks under disk pressure
// (eviction.Images).
func (c *Collector) DeleteUnusedImages(ctx context.Context) error {
	c.collecting.Lock()
	defer c.collecting.Unlock()
	now := c.clock.Now()
	order, err := c.order(ctx, now)
	if err != nil {
		return err
	}
	_, errs := freeSpace(ctx, order, math.MaxInt64, now, c.policy.MinAge, c.remove)
	return errors.Join(errs...)
}

// detect brings the records up to date at the clock's time.
func (c *Collector) detect(ctx context.Context) error {
	c.collecting.Lock()
	defer c.collecting.Unlock()
	_, err := c.order(ctx, c.clock.Now())
	return err
}

// order brings the records up to date at now, as upstream's detectImages: an image seen
// for the first time was first detected now, one a container uses was last used now, and
// images gone are forgotten. It returns the images that may go, in eviction order.
func (c *Collector) order(ctx context.Context, now time.Time) ([]candidate, error) {
	imgs, err := c.rt.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	containers, err := c.rt.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	inUse := map[string]bool{}
	for _, ctr := range containers {
		if ctr.ImageID != "" {
			inUse[ctr.ImageID] = true
		}
	}
	present := make(map[string]bool, len(imgs))
	for _, img := range imgs {
		present[img.ID] = true
		r, ok := c.records[img.ID]
		if !ok {
			r = &record{firstDetected: now}
			c.records[img.ID] = r
		}
		if inUse[img.ID] {
			r.lastUsed = now
		}
		r.size, r.pinned = img.Size, img.Pinned
	}
	for id := range c.records {
		if !present[id] {
			delete(c.records, id)
		}
	}
	return evictionOrder(c.records, inUse), nil
}

func (c *Collector) remove(ctx context.Context, id string) error {
	c.log.Info("Deleting unused image", "image", id, "size", c.records[id].size)
	if err := c.rt.RemoveImage(ctx, id); err != nil {
		return fmt.Errorf("deleting image %s: %w", id, err)
	}
	delete(c.records, id)
	return nil
}
