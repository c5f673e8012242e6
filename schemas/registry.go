package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// shipped holds the schema files. json/<collection>.v<N>.json are
// collections; json/defs/ holds shared definitions they reference.
//
//go:embed json/*.json json/defs/*.json
var shipped embed.FS

// baseURL is the $id prefix of every shipped schema. Nothing is ever fetched
// from it: the compiler only sees the embedded files.
const baseURL = "https://ruhu.dev/schemas/"

// collectionFile matches json/<collection>.v<N>.json.
var collectionFile = regexp.MustCompile(`^([a-z][a-z0-9_]*)\.v([1-9][0-9]*)\.json$`)

// Registry holds the compiled schemas of every collection. It is immutable
// after New and safe for concurrent use by many goroutines.
type Registry struct {
	names       []string
	collections map[string]*collection
	printer     *message.Printer
}

// collection is one compiled collection schema with its policy and rules.
type collection struct {
	name    string
	version int
	root    *jsonschema.Schema            // whole-record schema
	props   map[string]*jsonschema.Schema // root.Properties: one subschema per field
	policy  CollectionPolicy
	rules   []crossFieldRule
	order   map[string][]string // declaration order of properties (form.go)
	// compiled vouches for most valid input without the library
	// (compiled.go); whatever it does not accept goes through root/props.
	compiled *compiledRoot
}

// New compiles the embedded schema files, using the highest version of each
// collection. It fails only if a shipped schema is broken: invalid JSON or
// JSON Schema, an $id that does not match its file name, a missing or
// inconsistent "x-ruhu" policy, or a Go rule naming a field the schema lacks.
func New() (*Registry, error) {
	return load(shipped)
}

// load builds a Registry from schema files laid out as in json/.
func load(fsys fs.FS) (*Registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	c.UseLoader(embeddedOnly{})
	c.UseRegexpEngine(compilePattern)

	shared, err := addSharedDefs(c, fsys)
	if err != nil {
		return nil, err
	}
	latest, err := latestCollectionFiles(fsys)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		collections: make(map[string]*collection, len(latest)),
		printer:     message.NewPrinter(language.English),
	}
	// Every collection is added before any is compiled, so the order of
	// files never matters.
	raws := make(map[string][]byte, len(latest))
	for name, cv := range latest {
		raw, doc, err := readSchema(fsys, cv.file)
		if err != nil {
			return nil, err
		}
		inlined, err := shared.inline(doc, strings.TrimPrefix(cv.file, "json/"), 0)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", cv.file, err)
		}
		if err := c.AddResource(urlOf(cv.file), inlined); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", cv.file, err)
		}
		raws[name] = raw
		r.names = append(r.names, name)
	}
	slices.Sort(r.names)
	for _, name := range r.names {
		col, err := compileCollection(c, name, latest[name], raws[name])
		if err != nil {
			return nil, err
		}
		col.order = propertyOrder(raws[name])
		r.collections[name] = col
	}
	return r, nil
}

// urlOf is the $id a file under json/ must carry.
func urlOf(file string) string { return baseURL + strings.TrimPrefix(file, "json/") }

// addSharedDefs registers json/defs/*.json and returns their $defs for
// inlining.
func addSharedDefs(c *jsonschema.Compiler, fsys fs.FS) (sharedDefs, error) {
	files, err := fs.Glob(fsys, "json/defs/*.json")
	if err != nil {
		return nil, fmt.Errorf("list shared schema definitions: %w", err)
	}
	shared := make(sharedDefs, len(files))
	for _, file := range files {
		_, doc, err := readSchema(fsys, file)
		if err != nil {
			return nil, err
		}
		defs, _ := doc["$defs"].(map[string]any)
		shared[strings.TrimPrefix(file, "json/")] = defs
		if err := c.AddResource(urlOf(file), doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", file, err)
		}
	}
	return shared, nil
}

// compileCollection compiles one collection and checks what the rest of
// the package relies on: named properties, unknown fields refused, a
// consistent policy, and Go rules that read only defined fields.
func compileCollection(c *jsonschema.Compiler, name string, cv collectionVersion, raw []byte) (*collection, error) {
	url := urlOf(cv.file)
	root, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", url, err)
	}
	col := &collection{name: name, version: cv.version, root: root, props: root.Properties, compiled: compileRoot(root)}
	if len(col.props) == 0 {
		return nil, fmt.Errorf("schema %s: no properties", url)
	}
	if root.AdditionalProperties != false {
		return nil, fmt.Errorf("schema %s: additionalProperties must be false so unknown fields are refused", url)
	}
	if col.policy, err = readPolicy(raw, col.props); err != nil {
		return nil, fmt.Errorf("schema %s: %w", url, err)
	}
	col.rules = crossFieldRules(name)
	for _, rule := range col.rules {
		for _, f := range rule.fields {
			if _, ok := col.props[f]; !ok {
				return nil, fmt.Errorf("schema %s: rule %q reads field %q that the schema does not define", url, rule.name, f)
			}
		}
	}
	return col, nil
}

type collectionVersion struct {
	file    string
	version int
}

// latestCollectionFiles maps each collection to its highest-version file.
func latestCollectionFiles(fsys fs.FS) (map[string]collectionVersion, error) {
	entries, err := fs.ReadDir(fsys, "json")
	if err != nil {
		return nil, fmt.Errorf("list schema files: %w", err)
	}
	latest := make(map[string]collectionVersion)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := collectionFile.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schema file %s: name is not <collection>.v<N>.json", e.Name())
		}
		v, err := strconv.Atoi(m[2])
		if err != nil {
			return nil, fmt.Errorf("schema file %s: version: %w", e.Name(), err)
		}
		if cur, ok := latest[m[1]]; !ok || v > cur.version {
			latest[m[1]] = collectionVersion{file: "json/" + e.Name(), version: v}
		}
	}
	if len(latest) == 0 {
		return nil, fmt.Errorf("no collection schemas embedded")
	}
	return latest, nil
}

// readSchema reads one schema file and checks that its $id is the URL
// it is registered under, so relative $refs resolve as the author meant.
func readSchema(fsys fs.FS, file string) ([]byte, map[string]any, error) {
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, nil, fmt.Errorf("read schema %s: %w", file, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("decode schema %s: %w", file, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("schema %s: not a JSON object", file)
	}
	url := urlOf(file)
	if id, _ := obj["$id"].(string); id != url {
		return nil, nil, fmt.Errorf("schema %s: $id is %q, want %q", file, id, url)
	}
	return raw, obj, nil
}

// embeddedOnly refuses every URL: all schemas are added as resources up
// front, so a $ref that needs loading is a broken shipped schema, and
// validation must never reach the network or the disk.
type embeddedOnly struct{}

func (embeddedOnly) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded", url)
}

// policyDoc is the "x-ruhu" keyword of a collection schema.
type policyDoc struct {
	AppendOnly  *bool    `json:"appendOnly"`
	Annotations []string `json:"annotations"`
	CitesBlobs  []string `json:"citesBlobs"`
	PII         []string `json:"pii"`
}

// readPolicy decodes and checks the "x-ruhu" keyword of a schema file.
func readPolicy(raw []byte, props map[string]*jsonschema.Schema) (CollectionPolicy, error) {
	var top struct {
		Policy json.RawMessage `json:"x-ruhu"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return CollectionPolicy{}, fmt.Errorf("decode x-ruhu: %w", err)
	}
	if top.Policy == nil {
		return CollectionPolicy{}, fmt.Errorf(`missing "x-ruhu" policy (appendOnly must be stated)`)
	}
	dec := json.NewDecoder(bytes.NewReader(top.Policy))
	dec.DisallowUnknownFields()
	var doc policyDoc
	if err := dec.Decode(&doc); err != nil {
		return CollectionPolicy{}, fmt.Errorf("decode x-ruhu: %w", err)
	}
	if doc.AppendOnly == nil {
		return CollectionPolicy{}, fmt.Errorf("x-ruhu: appendOnly must be stated")
	}
	p := CollectionPolicy{
		AppendOnly:  *doc.AppendOnly,
		Annotations: doc.Annotations,
		CitesBlobs:  doc.CitesBlobs,
		PII:         doc.PII,
	}
	if len(p.Annotations) > 0 && !p.AppendOnly {
		return CollectionPolicy{}, fmt.Errorf("x-ruhu: annotations are only meaningful on append-only collections")
	}
	for _, list := range [][]string{p.Annotations, p.CitesBlobs, p.PII} {
		for _, f := range list {
			if _, ok := props[f]; !ok {
				return CollectionPolicy{}, fmt.Errorf("x-ruhu names field %q that the schema does not define", f)
			}
		}
	}
	for _, f := range p.CitesBlobs {
		if !holdsSha256(props[f]) {
			return CollectionPolicy{}, fmt.Errorf("x-ruhu: citesBlobs field %q is not a sha256 or an array of sha256", f)
		}
	}
	return p, nil
}

// sha256Pattern is the pattern of the shared "sha256" definition.
const sha256Pattern = "^[0-9a-f]{64}$"

// holdsSha256 reports whether a compiled field schema only admits a sha256
// hex string or an array of them.
func holdsSha256(s *jsonschema.Schema) bool {
	if s.Items2020 != nil {
		return holdsSha256(s.Items2020)
	}
	return s.Pattern != nil && s.Pattern.String() == sha256Pattern
}

// Collections returns the names of all collections, sorted. The slice is
// the caller's to keep.
func (r *Registry) Collections() []string { return slices.Clone(r.names) }

// Known reports whether collection has a schema.
func (r *Registry) Known(collection string) bool {
	_, ok := r.collections[collection]
	return ok
}

// Version returns the schema version used for collection (the N of
// <collection>.vN.json), or 0 for an unknown collection.
func (r *Registry) Version(collection string) int {
	if c, ok := r.collections[collection]; ok {
		return c.version
	}
	return 0
}

// Policy returns the collection's policy; the zero CollectionPolicy for an
// unknown collection. The slices are copies the caller may keep.
func (r *Registry) Policy(collection string) CollectionPolicy {
	if c, ok := r.collections[collection]; ok {
		return c.policy.clone()
	}
	return CollectionPolicy{}
}

func (r *Registry) lookup(name string) (*collection, error) {
	c, ok := r.collections[name]
	if !ok {
		return nil, &FieldError{Collection: name, Reason: "unknown collection", kind: ErrUnknownCollection}
	}
	return c, nil
}

// Fields returns the field names a collection's schema defines, sorted;
// nil for an unknown collection. Forms and exports use it to stay in step
// with the schema.
func (r *Registry) Fields(collection string) []string {
	c, ok := r.collections[collection]
	if !ok {
		return nil
	}
	names := make([]string, 0, len(c.props))
	for name := range c.props {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
