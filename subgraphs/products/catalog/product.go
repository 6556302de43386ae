// Package catalog is the products service's domain: products with their
// variants (one SKU each) and categories, the rules they obey, who may see
// and change them, and the Store the service needs. It imports no gqlgen,
// MongoDB driver or net/http.
package catalog

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Status is a product's life-cycle state.
type Status string

// Product states.
const (
	// StatusDraft: being prepared; only admins see it.
	StatusDraft Status = "DRAFT"
	// StatusActive: for sale and listed.
	StatusActive Status = "ACTIVE"
	// StatusArchived: no longer for sale or listed, but still reachable by
	// ID so that orders placed earlier can show it.
	StatusArchived Status = "ARCHIVED"
)

// Valid reports whether s is one of the states.
func (s Status) Valid() bool {
	return s == StatusDraft || s == StatusActive || s == StatusArchived
}

// Limits of a product's contents.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 10_000
	MaxSlugLen        = 100
	MaxCategories     = 50
	MaxAttributes     = 100
	MaxAttrNameLen    = 100
	MaxAttrValueLen   = 1000
	MaxImages         = 50
	MaxURLLen         = 2048
	MaxAltLen         = 500
	MaxVariants       = 100
	MaxOptions        = 10
	MaxOptionLen      = 100
)

// Product is a product of the catalog.
type Product struct {
	// ID is the product's local key, assigned by the Store.
	ID          string
	Slug        string
	Name        string
	Description string
	Status      Status
	// CategoryIDs are the local keys of the product's categories.
	CategoryIDs []string
	Attributes  []Attribute
	Images      []Image
	// Variants are never empty and never lose a member: a SKU once created
	// may have been sold.
	Variants  []Variant
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Attribute is a descriptive name/value pair.
type Attribute struct {
	Name  string
	Value string
}

// Image is an image of a product.
type Image struct {
	URL string
	Alt string
}

// Option is one option of a variant, such as size: M.
type Option struct {
	Name  string
	Value string
}

// Variant is one purchasable version of a product, identified by its SKU.
type Variant struct {
	// SKU is upper case and never changes.
	SKU     string
	Name    string
	Options []Option
	Price   money.Money
	// ProductID is the local key of the product the variant belongs to.
	ProductID string
	// product is the product the variant was read with, if a lookup by
	// SKU read it (see Product()).
	product *Product
}

// Product returns the product the variant was read with by a lookup by SKU
// (VariantsBySKU, ResolveVariants), so that resolving it needs no second
// read; nil if the variant came some other way.
func (v *Variant) Product() *Product { return v.product }

// SKUs returns the SKUs of the product's variants, in order.
func (p *Product) SKUs() []string {
	out := make([]string, len(p.Variants))
	for i, v := range p.Variants {
		out[i] = v.SKU
	}
	return out
}

// Variant returns the variant with the given SKU, or nil.
func (p *Product) Variant(sku string) *Variant {
	for i := range p.Variants {
		if p.Variants[i].SKU == sku {
			return &p.Variants[i]
		}
	}
	return nil
}

// PriceRange returns the lowest and the highest variant price; ok is false
// for a product without variants.
func (p *Product) PriceRange() (lo, hi money.Money, ok bool) {
	for i, v := range p.Variants {
		if i == 0 || v.Price.Amount < lo.Amount {
			lo = v.Price
		}
		if i == 0 || v.Price.Amount > hi.Amount {
			hi = v.Price
		}
	}
	return lo, hi, len(p.Variants) > 0
}

// MinPrice is the product's price for filtering and sorting: its lowest
// variant price.
func (p *Product) MinPrice() money.Money {
	lo, _, _ := p.PriceRange()
	return lo
}

// Currency is the currency all of the product's variants are priced in.
func (p *Product) Currency() string { return p.MinPrice().Currency }

// SortName is the key products are sorted by name with: the name in lower
// case, so that the order ignores case.
func SortName(name string) string { return strings.ToLower(name) }

// Clone returns a deep copy of p.
func (p *Product) Clone() *Product {
	c := *p
	c.CategoryIDs = append([]string(nil), p.CategoryIDs...)
	c.Attributes = append([]Attribute(nil), p.Attributes...)
	c.Images = append([]Image(nil), p.Images...)
	c.Variants = make([]Variant, len(p.Variants))
	for i, v := range p.Variants {
		v.Options = append([]Option(nil), v.Options...)
		c.Variants[i] = v
	}
	return &c
}

// setProductID points every variant at p.
func (p *Product) setProductID() {
	for i := range p.Variants {
		p.Variants[i].ProductID = p.ID
	}
}

// Validate checks the rules every stored product obeys; its contents must be
// normalized already (see normalize). Field names in errors are relative to
// the product's input.
// Returns INVALID_INPUT, or CONFLICT for a SKU that appears twice.
func (p *Product) Validate() error {
	if err := validateText("name", p.Name, 1, MaxNameLen); err != nil {
		return err
	}
	if err := ValidateSlug("slug", p.Slug); err != nil {
		return err
	}
	if err := validateText("description", p.Description, 0, MaxDescriptionLen); err != nil {
		return err
	}
	if !p.Status.Valid() {
		return apperr.Invalid("status", "unknown status %q", p.Status)
	}
	if len(p.CategoryIDs) > MaxCategories {
		return apperr.Invalid("categoryIds", "at most %d categories", MaxCategories)
	}
	if len(p.Attributes) > MaxAttributes {
		return apperr.Invalid("attributes", "at most %d attributes", MaxAttributes)
	}
	attrs := map[string]bool{}
	for i, a := range p.Attributes {
		f := fmt.Sprintf("attributes[%d]", i)
		if err := validateText(f+".name", a.Name, 1, MaxAttrNameLen); err != nil {
			return err
		}
		if err := validateText(f+".value", a.Value, 0, MaxAttrValueLen); err != nil {
			return err
		}
		key := strings.ToLower(a.Name)
		if attrs[key] {
			return apperr.Invalid(f+".name", "attribute %q appears twice", a.Name)
		}
		attrs[key] = true
	}
	if len(p.Images) > MaxImages {
		return apperr.Invalid("images", "at most %d images", MaxImages)
	}
	for i, img := range p.Images {
		f := fmt.Sprintf("images[%d]", i)
		if err := validateImageURL(f+".url", img.URL); err != nil {
			return err
		}
		if err := validateText(f+".alt", img.Alt, 0, MaxAltLen); err != nil {
			return err
		}
	}
	return p.validateVariants()
}

func (p *Product) validateVariants() error {
	if len(p.Variants) == 0 {
		return apperr.Invalid("variants", "a product needs at least one variant")
	}
	if len(p.Variants) > MaxVariants {
		return apperr.Invalid("variants", "at most %d variants", MaxVariants)
	}
	skus := map[string]bool{}
	combos := map[string]string{}
	currency := p.Variants[0].Price.Currency
	for i, v := range p.Variants {
		f := fmt.Sprintf("variants[%d]", i)
		if err := ValidateSKU(f+".sku", v.SKU); err != nil {
			return err
		}
		if skus[v.SKU] {
			return &apperr.Error{Code: apperr.Conflict, Field: f + ".sku",
				Message: fmt.Sprintf("SKU %q appears twice", v.SKU)}
		}
		skus[v.SKU] = true
		if err := validateText(f+".name", v.Name, 1, MaxNameLen); err != nil {
			return err
		}
		if err := v.Price.Validate(f + ".price"); err != nil {
			return err
		}
		if v.Price.Currency != currency {
			return apperr.Invalid(f+".price", "all variants of a product must be priced in one currency: %s and %s differ",
				currency, v.Price.Currency)
		}
		if len(v.Options) > MaxOptions {
			return apperr.Invalid(f+".options", "at most %d options", MaxOptions)
		}
		names := map[string]bool{}
		keys := make([]string, 0, len(v.Options))
		for j, o := range v.Options {
			of := fmt.Sprintf("%s.options[%d]", f, j)
			if err := validateText(of+".name", o.Name, 1, MaxOptionLen); err != nil {
				return err
			}
			if err := validateText(of+".value", o.Value, 1, MaxOptionLen); err != nil {
				return err
			}
			n := strings.ToLower(o.Name)
			if names[n] {
				return apperr.Invalid(of+".name", "option %q appears twice", o.Name)
			}
			names[n] = true
			keys = append(keys, n+"\x00"+strings.ToLower(o.Value))
		}
		if len(keys) > 0 {
			slices.Sort(keys)
			combo := strings.Join(keys, "\x01")
			if other, ok := combos[combo]; ok {
				return apperr.Invalid(f+".options", "variants %s and %s have the same options", other, v.SKU)
			}
			combos[combo] = v.SKU
		}
	}
	return nil
}

// normalize trims the product's text and upper-cases its SKUs.
func (p *Product) normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Slug = strings.TrimSpace(p.Slug)
	p.Description = strings.TrimSpace(p.Description)
	for i := range p.Attributes {
		p.Attributes[i] = Attribute{Name: strings.TrimSpace(p.Attributes[i].Name), Value: strings.TrimSpace(p.Attributes[i].Value)}
	}
	for i := range p.Images {
		p.Images[i] = Image{URL: strings.TrimSpace(p.Images[i].URL), Alt: strings.TrimSpace(p.Images[i].Alt)}
	}
	for i := range p.Variants {
		p.Variants[i].normalize()
	}
}

func (v *Variant) normalize() {
	v.SKU = NormalizeSKU(v.SKU)
	v.Name = strings.TrimSpace(v.Name)
	for i := range v.Options {
		v.Options[i] = Option{Name: strings.TrimSpace(v.Options[i].Name), Value: strings.TrimSpace(v.Options[i].Value)}
	}
}

var skuRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-_]{1,63}$`)

// NormalizeSKU returns sku trimmed and in upper case: the form SKUs are
// stored and looked up in.
func NormalizeSKU(sku string) string { return strings.ToUpper(strings.TrimSpace(sku)) }

// ValidateSKU returns INVALID_INPUT unless sku (normalized) is 2 to 64
// upper-case letters, digits, '-' or '_', starting with a letter or digit.
func ValidateSKU(field, sku string) error {
	if !skuRE.MatchString(sku) {
		return apperr.Invalid(field, "invalid SKU %q: want 2 to 64 letters, digits, '-' or '_', starting with a letter or digit", sku)
	}
	return nil
}

func validateText(field, s string, lo, hi int) error {
	n := utf8.RuneCountInString(s)
	if n < lo {
		return apperr.Invalid(field, "%s must not be empty", field)
	}
	if n > hi {
		return apperr.Invalid(field, "%s is longer than %d characters", field, hi)
	}
	return nil
}

func validateImageURL(field, s string) error {
	if len(s) > MaxURLLen {
		return apperr.Invalid(field, "URL is longer than %d characters", MaxURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return apperr.Invalid(field, "image URL %q must be an absolute http or https URL", s)
	}
	return nil
}
