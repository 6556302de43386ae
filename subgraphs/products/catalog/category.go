package catalog

import (
	"strings"
	"time"
)

// Category is a group of products, possibly inside a parent category.
type Category struct {
	// ID is the category's local key, assigned by the Store.
	ID          string
	Slug        string
	Name        string
	Description string
	// ParentID is the local key of the parent category; "" for a top-level
	// category.
	ParentID  string
	CreatedAt time.Time
}

// CategoryInput is a new category.
type CategoryInput struct {
	Name string
	// Slug is derived from Name when nil.
	Slug        *string
	Description string
	// ParentID is the parent's local key, or "".
	ParentID string
}

// descendants returns root's ID and those of all categories below it.
func descendants(all []*Category, root string) []string {
	children := map[string][]string{}
	for _, c := range all {
		if c.ParentID != "" {
			children[c.ParentID] = append(children[c.ParentID], c.ID)
		}
	}
	out := []string{root}
	seen := map[string]bool{root: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func (in *CategoryInput) normalize() {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
}
