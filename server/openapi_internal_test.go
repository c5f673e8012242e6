package server

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/importer"
	"github.com/ruhu-dev/ruhu/server/uploads"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// openAPISchema returns the schema at path in the components: names joined
// by ".", "[]" for an array's items, "*" for a map's values; $refs are
// followed.
func openAPISchema(t *testing.T, schemas map[string]any, path string) map[string]any {
	t.Helper()
	resolve := func(s map[string]any) map[string]any {
		for {
			r, ok := s["$ref"].(string)
			if !ok {
				return s
			}
			s, _ = schemas[strings.TrimPrefix(r, "#/components/schemas/")].(map[string]any)
		}
	}
	parts := strings.Split(path, ".")
	s, _ := schemas[strings.TrimSuffix(parts[0], "[]")].(map[string]any)
	for i, p := range parts {
		if s == nil {
			t.Fatalf("%s: no schema", path)
		}
		s = resolve(s)
		if i > 0 {
			name := strings.TrimSuffix(p, "[]")
			if name == "*" {
				s, _ = s["additionalProperties"].(map[string]any)
			} else {
				props, _ := s["properties"].(map[string]any)
				s, _ = props[name].(map[string]any)
			}
			if s == nil {
				t.Fatalf("%s: no %s", path, name)
			}
			s = resolve(s)
		}
		if strings.HasSuffix(p, "[]") {
			s, _ = s["items"].(map[string]any)
			if s == nil {
				t.Fatalf("%s: %s is not an array", path, p)
			}
			s = resolve(s)
		}
	}
	return s
}

// jsonKeys lists the JSON member names of a struct type, embedded structs
// included.
func jsonKeys(typ reflect.Type) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var keys []string
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			keys = append(keys, jsonKeys(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys = append(keys, name)
	}
	return keys
}

// TestOpenAPIMatchesGoTypes: every member of every request and answer
// body, as the Go types the handlers decode and encode, is in the
// document, and the document names no member they lack.
func TestOpenAPIMatchesGoTypes(t *testing.T) {
	blobInfo := reflect.TypeOf(uploads.BlobInfo{})
	refs, _ := blobInfo.FieldByName("Refs")
	gps, _ := blobInfo.FieldByName("GPS")
	schemas := openAPISchemas()
	for _, tc := range []struct {
		path string
		typ  reflect.Type
	}{
		{"Health", reflect.TypeOf(healthView{})},
		{"WireOp", reflect.TypeOf(syncengine.WireOp{})},
		{"WireOp.del", reflect.TypeOf(syncengine.Tombstone{})},
		{"PushRequest", reflect.TypeOf(syncengine.PushRequest{})},
		{"PushResponse", reflect.TypeOf(syncengine.PushResponse{})},
		{"PushResponse.rejected[]", reflect.TypeOf(syncengine.Rejection{})},
		{"PushResponse.flagged[]", reflect.TypeOf(syncengine.FlaggedOp{})},
		{"WireRecord", reflect.TypeOf(syncengine.WireRecord{})},
		{"WireRecord.f.*", reflect.TypeOf(syncengine.WireField{})},
		{"PullResponse", reflect.TypeOf(syncengine.PullResponse{})},
		{"RecordResponse.record", reflect.TypeOf(recordView{})},
		{"RecordResponse.record.versions.*", reflect.TypeOf(versionView{})},
		{"RecordResponse.history[]", reflect.TypeOf(opView{})},
		{"RecordResponse.evidence", reflect.TypeOf(evidenceView{})},
		{"EvidenceManifest.unusable[]", reflect.TypeOf(unusableBlob{})},
		{"RecordResponse.housing_evidence", reflect.TypeOf(caseEvidence{})},
		{"Conflict", reflect.TypeOf(conflictView{})},
		{"Conflict.candidates[]", reflect.TypeOf(candidateView{})},
		{"Conflict.resolution", reflect.TypeOf(resolutionView{})},
		{"ResolveRequest", reflect.TypeOf(resolveRequest{})},
		{"EditRecordRequest", reflect.TypeOf(editRecordRequest{})},
		{"LoginRequest", reflect.TypeOf(loginRequest{})},
		{"RefreshRequest", reflect.TypeOf(refreshRequest{})},
		{"EnrollRequest", reflect.TypeOf(enrollRequest{})},
		{"TokenResponse", reflect.TypeOf(tokenResponse{})},
		{"User", reflect.TypeOf(userView{})},
		{"UserInput", reflect.TypeOf(UserInput{})},
		{"DeviceList.devices[]", reflect.TypeOf(deviceView{})},
		{"AuditList.entries[]", reflect.TypeOf(auditEntryJSON{})},
		{"HouseholdImport", reflect.TypeOf(core.HouseholdImport{})},
		{"HouseholdImport.problems[]", reflect.TypeOf(importer.RowError{})},
		{"FindingList.findings[]", reflect.TypeOf(findingView{})},
		{"FindingList.findings[].photos[]", reflect.TypeOf(photoRef{})},
		{"SignatureList.signatures[]", reflect.TypeOf(signatureView{})},
		{"BlobInfo", blobInfo},
		{"BlobInfo.refs[]", refs.Type.Elem()},
		{"BlobInfo.gps", gps.Type},
	} {
		s := openAPISchema(t, schemas, tc.path)
		props, _ := s["properties"].(map[string]any)
		var documented []string
		for name := range props {
			documented = append(documented, name)
		}
		got := jsonKeys(tc.typ)
		slices.Sort(got)
		got = slices.Compact(got)
		slices.Sort(documented)
		if !slices.Equal(got, documented) {
			t.Errorf("%s: %s has members %v, the document %v", tc.path, tc.typ, got, documented)
		}
	}
}

// TestOpenAPIDescribesEveryField: every property of every component, at
// any depth, says what it is, and every HLC property is the packed-integer
// HLC schema. (TestOpenAPIListsEveryRoute checks the parameters.)
func TestOpenAPIDescribesEveryField(t *testing.T) {
	schemas := openAPISchemas()
	hlc, _ := schemas["HLC"].(map[string]any)
	if hlc["type"] != "integer" || !strings.Contains(hlc["description"].(string), "<< 16") {
		t.Fatalf("HLC schema %v does not say how the stamp is packed", hlc)
	}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			p := p.(map[string]any)
			if p["description"] == nil && p["$ref"] == nil {
				t.Errorf("%s.%s has no description", path, name)
			}
			if (name == "hlc" || name == "h" || name == "stated_hlc") && p["$ref"] != "#/components/schemas/HLC" {
				t.Errorf("%s.%s is not the HLC schema: %v", path, name, p)
			}
			walk(path+"."+name, p)
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
		if values, ok := s["additionalProperties"].(map[string]any); ok {
			walk(path+".*", values)
		}
	}
	for name, s := range schemas {
		walk(name, s.(map[string]any))
	}

}
