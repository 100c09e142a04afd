// Package imagegc is the node's image garbage collector, as upstream's kubelet's
// (pkg/kubelet/images/image_gc_manager.go): it remembers when it first saw each image and
// when it last saw a container of it, and deletes unused images least recently used first.
//
//   - policy.go: the flags' values (--image-gc-high-threshold, --image-gc-low-threshold,
//     --minimum-image-ttl-duration, --image-maximum-gc-age) and their checks.
//   - collector.go: the records, the periodic collection (every 5 min: images unused for
//     longer than the maximum age, then, once the image filesystem is used to the high
//     threshold, unused images until it is down to the low one) and DeleteUnusedImages,
//     which the eviction manager calls under disk pressure.
//   - order.go: which images may go and in what order, a pure function.
package imagegc
