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
		path  string
		typ   reflect.Type
		extra []string // documented members the type lacks, added by stores
	}{
		{path: "Health", typ: reflect.TypeOf(healthView{})},
		{path: "WireOp", typ: reflect.TypeOf(syncengine.WireOp{})},
		{path: "WireOp.del", typ: reflect.TypeOf(syncengine.Tombstone{})},
		{path: "PushRequest", typ: reflect.TypeOf(syncengine.PushRequest{})},
		{path: "PushResponse", typ: reflect.TypeOf(syncengine.PushResponse{})},
		{path: "PushResponse.rejected[]", typ: reflect.TypeOf(syncengine.Rejection{})},
		{path: "PushResponse.flagged[]", typ: reflect.TypeOf(syncengine.FlaggedOp{})},
		{path: "WireRecord", typ: reflect.TypeOf(syncengine.WireRecord{}), extra: []string{"seq"}},
		{path: "WireRecord.f.*", typ: reflect.TypeOf(syncengine.WireField{})},
		{path: "PullResponse", typ: reflect.TypeOf(syncengine.PullResponse{})},
		{path: "RecordResponse.record", typ: reflect.TypeOf(recordView{})},
		{path: "RecordResponse.record.versions.*", typ: reflect.TypeOf(versionView{})},
		{path: "RecordResponse.history[]", typ: reflect.TypeOf(opView{})},
		{path: "RecordResponse.evidence", typ: reflect.TypeOf(evidenceView{})},
		{path: "EvidenceManifest.unusable[]", typ: reflect.TypeOf(unusableBlob{})},
		{path: "RecordResponse.housing_evidence", typ: reflect.TypeOf(caseEvidence{})},
		{path: "Conflict", typ: reflect.TypeOf(conflictView{})},
		{path: "Conflict.candidates[]", typ: reflect.TypeOf(candidateView{})},
		{path: "Conflict.resolution", typ: reflect.TypeOf(resolutionView{})},
		{path: "ResolveRequest", typ: reflect.TypeOf(resolveRequest{})},
		{path: "EditRecordRequest", typ: reflect.TypeOf(editRecordRequest{})},
		{path: "LoginRequest", typ: reflect.TypeOf(loginRequest{})},
		{path: "RefreshRequest", typ: reflect.TypeOf(refreshRequest{})},
		{path: "EnrollRequest", typ: reflect.TypeOf(enrollRequest{})},
		{path: "TokenResponse", typ: reflect.TypeOf(tokenResponse{})},
		{path: "User", typ: reflect.TypeOf(userView{})},
		{path: "UserInput", typ: reflect.TypeOf(UserInput{})},
		{path: "UserUpdate", typ: reflect.TypeOf(UserUpdate{})},
		{path: "DeviceList.devices[]", typ: reflect.TypeOf(deviceView{})},
		{path: "AuditList.entries[]", typ: reflect.TypeOf(auditEntryJSON{})},
		{path: "HouseholdImport", typ: reflect.TypeOf(core.HouseholdImport{})},
		{path: "HouseholdImport.problems[]", typ: reflect.TypeOf(importer.RowError{})},
		{path: "FindingList.findings[]", typ: reflect.TypeOf(findingView{})},
		{path: "FindingList.findings[].photos[]", typ: reflect.TypeOf(photoRef{})},
		{path: "SignatureList.signatures[]", typ: reflect.TypeOf(signatureView{})},
		{path: "BlobInfo", typ: blobInfo},
		{path: "BlobInfo.refs[]", typ: refs.Type.Elem()},
		{path: "BlobInfo.gps", typ: gps.Type},
	} {
		s := openAPISchema(t, schemas, tc.path)
		props, _ := s["properties"].(map[string]any)
		var documented []string
		for name := range props {
			documented = append(documented, name)
		}
		got := append(jsonKeys(tc.typ), tc.extra...)
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
