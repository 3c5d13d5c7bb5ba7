package shadow

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// ListNamedShadowsForThing page sizes (Greengrass's).
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// ListPage is a ListNamedShadowsForThing response document.
type ListPage struct {
	Results   []string `json:"results"`             // named shadows, in byte order; never the classic one
	NextToken string   `json:"nextToken,omitempty"` // for the next page; "" on the last one
	Timestamp int64    `json:"timestamp"`
}

// List lists the named shadows of thing, pageSize at a time (0 means
// DefaultPageSize), from the page nextToken names ("" for the first). Like
// ListNamedShadowsForThing it is HTTP-only in IoT Core, so it has no topic.
// It reads what is committed, so it never lists a shadow whose creation has
// not yet returned.
func (s *Service) List(ctx context.Context, thing string, pageSize int, nextToken string) (ListPage, error) {
	if err := validateNames(thing, ""); err != nil {
		return ListPage{}, s.fail(err, "")
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 1 || pageSize > MaxPageSize {
		return ListPage{}, s.fail(newError(400, "PageSize must be between 1 and 100"), "")
	}
	var after string
	if nextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || validateNames(thing, string(raw)) != nil || len(raw) == 0 {
			return ListPage{}, s.fail(newError(400, "Invalid nextToken"), "")
		}
		after = string(raw)
	}
	if err := ctx.Err(); err != nil {
		return ListPage{}, s.fail(err, "")
	}
	done, err := s.admit(thing, OriginLocal)
	if err != nil {
		return ListPage{}, s.fail(err, "")
	}
	defer done()

	now := s.now().Unix()
	prefix := []byte(key(thing, ""))
	page := ListPage{Results: []string{}, Timestamp: now}
	err = s.store.View(bucket, func(b *bolt.Bucket) error {
		c := b.Cursor()
		k, v := c.Seek(append(prefix, after...))
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			name := string(k[len(prefix):])
			if name == "" || name <= after || len(v) == 0 || v[0] != recordShadow {
				continue // the classic shadow, the token's own name, a tombstone
			}
			if len(page.Results) == pageSize {
				page.NextToken = base64.RawURLEncoding.EncodeToString([]byte(page.Results[pageSize-1]))
				return nil
			}
			page.Results = append(page.Results, strings.Clone(name))
		}
		return nil
	})
	if err != nil {
		return ListPage{}, s.fail(err, "")
	}
	return page, nil
}
