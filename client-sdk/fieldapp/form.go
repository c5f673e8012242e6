package fieldapp

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Widgets a form field is drawn with. The generic ones follow from the
// schema; the special ones are the app's own for fields it fills itself.
const (
	WidgetText     = "text"
	WidgetTextarea = "textarea"
	WidgetNumber   = "number"
	WidgetCheckbox = "checkbox"
	WidgetRadio    = "radio"
	WidgetSelect   = "select"
	WidgetDate     = "date"
	WidgetGroup    = "group"
	// WidgetMember picks one of the household's members (an id field).
	WidgetMember = "member"
	// WidgetGPS asks the browser's Geolocation API for a fix.
	WidgetGPS = "gps"
	// WidgetPhotos takes photos by stage from the camera.
	WidgetPhotos = "photos"
	// WidgetDateTime is a local date and time (China Standard Time) for a
	// date-time field the person states, such as when a notice was posted:
	// the input reads "2006-01-02T15:04", the record holds RFC 3339.
	WidgetDateTime = "datetime"
	// widgetAuto fields are filled by the app (ids, times, the officer)
	// and not shown.
	widgetAuto = "auto"
)

// Form is a collection's schema as inputs: what the field app draws.
type Form struct {
	Collection string  `json:"collection"`
	Title      string  `json:"title"`
	Version    int     `json:"version"`
	Fields     []Field `json:"fields"`
	// ShowWhen, when set, shows only some fields for each value of one
	// choice field (an exit step's kind picks the fields of that step).
	ShowWhen *ShowWhen `json:"show_when,omitempty"`
}

// field returns the top-level field named name, or nil.
func (f *Form) field(name string) *Field {
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i]
		}
	}
	return nil
}

// schemaTitles returns the Chinese title of a collection and of each of
// its top-level fields in names, as the forms show them; a name the
// schema does not know stays as it is.
func schemaTitles(reg *schemas.Registry, collection string, names []string) (string, []string) {
	titles := slices.Clone(names)
	root := reg.Schema(collection)
	if root == nil {
		return collection, titles
	}
	root = deref(root)
	for i, n := range names {
		if prop := root.Properties[n]; prop != nil {
			titles[i] = titleOf(prop, deref(prop), n, root)
		}
	}
	return chineseTitle(root), titles
}

// ShowWhen names a choice field and, per value, the other fields shown;
// fields listed under no value are always shown.
type ShowWhen struct {
	Field  string              `json:"field"`
	Fields map[string][]string `json:"fields"`
}

// Field is one input (or a group of inputs for an object). Name is the
// field's path in the record, e.g. checklist.food: the input's name
// attribute, so forms are testable and stable.
type Field struct {
	Name      string   `json:"name"`
	Title     string   `json:"title"`
	Help      string   `json:"help,omitempty"`
	Widget    string   `json:"widget"`
	Type      string   `json:"type,omitempty"` // string, number, integer, boolean
	Required  bool     `json:"required,omitempty"`
	Options   []Option `json:"options,omitempty"`
	MaxLength int      `json:"max_length,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	Fields    []Field  `json:"fields,omitempty"`
}

// Option is one allowed value of an enum with its Chinese label.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// visitWidgets are the visits fields the app fills or draws itself; every
// other field of the schema gets a generic input.
var visitWidgets = map[string]string{
	"household_id":          widgetAuto,
	"officer":               widgetAuto,
	"visited_at":            widgetAuto,
	"signature_ids":         widgetAuto,
	"gps":                   WidgetGPS,
	"photo_sha256s":         WidgetPhotos,
	"answered_by_member_id": WidgetMember,
}

// checkinWidgets and dutyDayWidgets are the same for the work team's forms.
var (
	checkinWidgets = map[string]string{"member": widgetAuto, "village_code": widgetAuto, "at": widgetAuto,
		"gps": WidgetGPS, "device_time": widgetAuto}
	dutyDayWidgets = map[string]string{"member": widgetAuto, "approved_by": widgetAuto, "approved_at": widgetAuto}
)

func widgetsFor(col string) map[string]string {
	switch col {
	case collection.Visits:
		return visitWidgets
	case collection.Checkins:
		return checkinWidgets
	case collection.DutyDays:
		return dutyDayWidgets
	case collection.IncomeSurveys:
		return incomeWidgets
	case collection.ExitSteps:
		return exitStepWidgets
	}
	return nil
}

// BuildForm generates the form of a collection from its JSON Schema:
// field order as the schema file declares it, titles and help from the
// schema's title and description, enum labels from the "value 标签"
// pairs of the description, bounds from the keywords. Annotation fields
// (a reviewer's) are left out. A field added to the schema appears here
// without any UI code.
func BuildForm(reg *schemas.Registry, name string) (*Form, error) {
	root := reg.Schema(name)
	if root == nil {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "没有 %s 的表单", name)
	}
	root = deref(root)
	pol := reg.Policy(name)
	skip := map[string]bool{}
	for _, a := range pol.Annotations {
		skip[a] = true
	}
	f := &Form{Collection: name, Title: chineseTitle(root), Version: reg.Version(name)}
	f.Fields = fieldsOf(reg, name, "", root, widgetsFor(name), skip)
	if name == collection.ExitSteps {
		f.ShowWhen = exitStepShowWhen()
	}
	return f, nil
}

func fieldsOf(reg *schemas.Registry, collection, at string, obj *jsonschema.Schema, special map[string]string, skip map[string]bool) []Field {
	order := reg.FieldOrder(collection, at)
	names := make([]string, 0, len(obj.Properties))
	for n := range obj.Properties {
		names = append(names, n)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	var out []Field
	for _, n := range names {
		path := n
		if at != "" {
			path = at + "." + n
		}
		if at == "" && skip[n] {
			continue
		}
		prop := obj.Properties[n]
		s := deref(prop)
		fd := Field{Name: path, Title: titleOf(prop, s, n, obj), Help: helpOf(prop, s), Required: slices.Contains(obj.Required, n)}
		if w, ok := special[path]; ok {
			if w == widgetAuto {
				continue
			}
			fd.Widget = w
			out = append(out, fd)
			continue
		}
		types := []string{}
		if s.Types != nil {
			types = s.Types.ToStrings()
		}
		switch {
		case s.Enum != nil:
			for _, v := range s.Enum.Values {
				str, ok := v.(string)
				if !ok {
					continue
				}
				fd.Options = append(fd.Options, Option{Value: str, Label: enumLabel(s.Description+" "+prop.Description, str)})
			}
			fd.Widget, fd.Type = WidgetRadio, "string"
			if len(fd.Options) > 4 {
				fd.Widget = WidgetSelect
			}
		case slices.Contains(types, "object"):
			fd.Widget = WidgetGroup
			fd.Fields = fieldsOf(reg, collection, path, s, special, skip)
		case slices.Contains(types, "boolean"):
			fd.Widget, fd.Type = WidgetCheckbox, "boolean"
		case slices.Contains(types, "integer"), slices.Contains(types, "number"):
			fd.Widget, fd.Type = WidgetNumber, "number"
			if slices.Contains(types, "integer") {
				fd.Type = "integer"
			}
			fd.Min, fd.Max = ratFloat(s.Minimum), ratFloat(s.Maximum)
		case slices.Contains(types, "string"):
			fd.Widget, fd.Type = WidgetText, "string"
			if s.MaxLength != nil {
				fd.MaxLength = *s.MaxLength
				if *s.MaxLength > 200 {
					fd.Widget = WidgetTextarea
				}
			}
			if s.Format != nil && s.Format.Name == "date" {
				fd.Widget = WidgetDate
			}
			if s.Format != nil && s.Format.Name == "date-time" {
				continue // times are stamped by the app
			}
		default:
			continue // arrays and the like have no generic input
		}
		out = append(out, fd)
	}
	return out
}

// deref follows $ref chains to the schema that holds the keywords.
func deref(s *jsonschema.Schema) *jsonschema.Schema {
	for i := 0; s.Ref != nil && i < 16; i++ {
		s = s.Ref
	}
	return s
}

var (
	cjk       = regexp.MustCompile(`\p{Han}`)
	cjkRun    = regexp.MustCompile(`[\p{Han}（）、：；，。·0-9A-Za-z]*\p{Han}[\p{Han}（）、：；，。·]*`)
	trimPunct = "，。；：、 "
)

// titleOf is the field's Chinese title: its own title, else the label
// its parent object's description gives it ("food 不愁吃, ..."), else the
// Chinese part of its description, else the field name.
func titleOf(prop, s *jsonschema.Schema, name string, parent *jsonschema.Schema) string {
	for _, t := range []string{prop.Title, s.Title} {
		if t != "" && cjk.MatchString(t) {
			return t
		}
	}
	if l := enumLabel(parent.Description, name); l != name {
		return l
	}
	for _, d := range []string{prop.Description, s.Description} {
		if m := cjkRun.FindString(d); m != "" {
			return strings.Trim(m, trimPunct)
		}
	}
	if prop.Title != "" {
		return prop.Title
	}
	return name
}

// helpOf is the field's description when it is written in Chinese.
func helpOf(prop, s *jsonschema.Schema) string {
	for _, d := range []string{prop.Description, s.Description} {
		if d != "" && cjk.MatchString(d) && !strings.ContainsAny(d[:1], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return d
		}
	}
	return ""
}

// enumLabel finds "value 标签" in a description, the schemas' way of
// naming enum values (and nested fields) in Chinese; value itself when the
// description has none.
func enumLabel(desc, value string) string {
	re := regexp.MustCompile(`(?:^|[\s,，:：;；(（])` + regexp.QuoteMeta(value) + `\s+([^\s,，.。;；:：)）]+)(?:[,，.。;；)）]|$)`)
	if m := re.FindStringSubmatch(desc); m != nil && cjk.MatchString(m[1]) {
		return m[1]
	}
	return value
}

func chineseTitle(s *jsonschema.Schema) string {
	if m := cjkRun.FindString(s.Title); m != "" {
		return strings.Trim(m, trimPunct)
	}
	return s.Title
}

func ratFloat(r *big.Rat) *float64 {
	if r == nil {
		return nil
	}
	f, _ := r.Float64()
	return &f
}

// Values turns the form's inputs (name → text, as the browser sends
// them) into record fields: numbers and booleans parsed by the field's
// type, groups nested, empty inputs left out. Names the form does not have
// are refused, so a stale page cannot write a field the schema lost.
func (f *Form) Values(inputs map[string]string) (map[string]json.RawMessage, error) {
	known := map[string]*Field{}
	var walk func(fs []Field)
	walk = func(fs []Field) {
		for i := range fs {
			known[fs[i].Name] = &fs[i]
			walk(fs[i].Fields)
		}
	}
	walk(f.Fields)
	tree := map[string]any{}
	for name, text := range inputs {
		fd, ok := known[name]
		if !ok || fd.Widget == WidgetGroup || fd.Widget == WidgetGPS || fd.Widget == WidgetPhotos {
			return nil, syncengine.Errorf(syncengine.EINVALID, "表单没有字段 %s", name)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		var v any = text
		if fd.Widget == WidgetDateTime {
			t, err := parseLocalDateTime(text)
			if err != nil {
				return nil, syncengine.Errorf(syncengine.EINVALID, "%s：%q 不是日期时间", fd.Title, text)
			}
			v = t
		}
		switch fd.Type {
		case "number":
			n, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, syncengine.Errorf(syncengine.EINVALID, "%s：%q 不是数字", fd.Title, text)
			}
			v = n
		case "integer":
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return nil, syncengine.Errorf(syncengine.EINVALID, "%s：%q 不是整数", fd.Title, text)
			}
			v = n
		case "boolean":
			v = text == "true" || text == "on"
		}
		parts := strings.Split(name, ".")
		node := tree
		for _, p := range parts[:len(parts)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[parts[len(parts)-1]] = v
	}
	out := make(map[string]json.RawMessage, len(tree))
	for k, v := range tree {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// Inputs is the reverse of Values: record fields as the form's input
// texts, for a draft made from a stored op. Fields with no input are
// returned apart, to be carried into the saved record unchanged.
func (f *Form) Inputs(fields map[string]json.RawMessage) (inputs map[string]string, carry map[string]json.RawMessage) {
	inputs, carry = map[string]string{}, map[string]json.RawMessage{}
	byName := map[string]*Field{}
	for i := range f.Fields {
		byName[f.Fields[i].Name] = &f.Fields[i]
	}
	for k, raw := range fields {
		fd, ok := byName[k]
		if !ok || fd.Widget == WidgetGPS || fd.Widget == WidgetPhotos {
			carry[k] = raw
			continue
		}
		if fd.Widget == WidgetGroup {
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil {
				carry[k] = raw
				continue
			}
			for sk, sv := range m {
				inputs[k+"."+sk] = fmt.Sprint(sv)
			}
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		switch x := v.(type) {
		case string:
			inputs[k] = x
			if fd.Widget == WidgetDateTime {
				inputs[k] = localDateTimeInput(x)
			}
		case float64:
			inputs[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			inputs[k] = strconv.FormatBool(x)
		default:
			carry[k] = raw
		}
	}
	return inputs, carry
}
