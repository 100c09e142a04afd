package imagegc

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// record is what the collector remembers of one image, by ID.
type record struct {
	// firstDetected is when the collector first listed the image; the minimum age counts
	// from it.
	firstDetected time.Time
	// lastUsed is when the collector last saw a container, running or not, of the image;
	// zero if it never did.
	lastUsed time.Time
	size     int64
	// pinned images are never deleted: those imported from --image-dir.
	pinned bool
}

// candidate is an image that may be deleted.
type candidate struct {
	id string
	record
}

// evictionOrder are the images no container uses and none pinned, least recently used
// first, those used at the same time (never, say) first detected first, as upstream's
// byLastUsedAndDetected.
func evictionOrder(records map[string]*record, inUse map[string]bool) []candidate {
	out := make([]candidate, 0, len(records))
	for id, r := range records {
		if !inUse[id] && !r.pinned {
			out = append(out, candidate{id: id, record: *r})
		}
	}
	slices.SortFunc(out, func(a, b candidate) int {
		if c := a.lastUsed.Compare(b.lastUsed); c != 0 {
			return c
		}
		if c := a.firstDetected.Compare(b.firstDetected); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

// freeSpace deletes images of order, in order, until their sizes add up to bytes: it
// skips any used at now or later and any first detected less than minAge before now,
// and goes on past one whose deletion fails. It returns the bytes of the images deleted
// and the errors.
func freeSpace(ctx context.Context, order []candidate, bytes int64, now time.Time, minAge time.Duration, remove func(context.Context, string) error) (int64, []error) {
	var freed int64
	var errs []error
	for _, img := range order {
		if !img.lastUsed.Before(now) || now.Sub(img.firstDetected) < minAge {
			continue
		}
		if err := remove(ctx, img.id); err != nil {
			errs = append(errs, err)
			continue
		}
		if freed += img.size; freed >= bytes {
			break
		}
	}
	return freed, errs
}

// old are the images of order unused for longer than maxAge at now.
func old(order []candidate, now time.Time, maxAge time.Duration) (gone, kept []candidate) {
	for _, img := range order {
		if now.Sub(img.lastUsed) > maxAge {
			gone = append(gone, img)
		} else {
			kept = append(kept, img)
		}
	}
	return gone, kept
}
