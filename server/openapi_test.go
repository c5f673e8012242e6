package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
)

// TestOpenAPIListsEveryRoute: the served document is OpenAPI 3, describes
// every mounted route (and no other, the upload routes included), every
// parameter of every operation says what it is, and every $ref in it
// resolves.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	r := ts.do("GET", "/v1/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("GET openapi: %s", r)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Info       map[string]any                       `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("document does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Fatalf("not an OpenAPI 3 document: openapi %q info %v", doc.OpenAPI, doc.Info)
	}

	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var mounted []string
	for _, rt := range ts.srv.App().GetRoutes(true) {
		if rt.Method == "HEAD" {
			continue
		}
		mounted = append(mounted, strings.ToLower(rt.Method)+" "+param.ReplaceAllString(rt.Path, "{$1}"))
	}
	var documented []string
	for path, item := range doc.Paths {
		for method, op := range item {
			documented = append(documented, method+" "+path)
			if op["responses"] == nil || op["summary"] == "" {
				t.Errorf("%s %s: no responses or summary", method, path)
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s %s: %v parameter %v has no description", method, path, p["in"], p["name"])
				}
			}
		}
	}
	slices.Sort(mounted)
	mounted = slices.Compact(mounted)
	slices.Sort(documented)
	if len(mounted) < 15 {
		t.Fatalf("only %d routes mounted: %v", len(mounted), mounted)
	}
	if !slices.Equal(mounted, documented) {
		t.Errorf("routes and document differ\nmounted:    %v\ndocumented: %v", mounted, documented)
	}

	// Every reference names a component that exists.
	refs := regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(r.body), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref in the document")
	}
	for _, m := range refs {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}

// TestUploadMetadataAsDocumented: the Upload-Metadata keys the document
// lists as required are what the server requires: a creation lacking any
// one of them is refused with EINVALID, one with all of them is created.
func TestUploadMetadataAsDocumented(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	var doc struct {
		Components struct {
			Schemas struct {
				UploadMetadata struct {
					Required   []string       `json:"required"`
					Properties map[string]any `json:"properties"`
				} `json:"UploadMetadata"`
			} `json:"schemas"`
		} `json:"components"`
	}
	ts.mustJSON("GET", "/v1/openapi.json", "", nil, 200, &doc)
	meta := doc.Components.Schemas.UploadMetadata
	want := []string{"area", "collection", "kind", "record_id", "sha256"}
	slices.Sort(meta.Required)
	if !slices.Equal(meta.Required, want) || len(meta.Properties) != len(want) {
		t.Fatalf("UploadMetadata requires %v of %v, want %v", meta.Required, meta.Properties, want)
	}
	wang := ts.as("wang")
	body := []byte("not really a photo")
	sum := sha256.Sum256(body)
	values := map[string]string{"sha256": hex.EncodeToString(sum[:]), "kind": "photo", "collection": "photos",
		"record_id": "phV1a-meta", "area": areaV1}
	header := func(skip string) string {
		var pairs []string
		for _, k := range want {
			if k != skip {
				pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(values[k])))
			}
		}
		return strings.Join(pairs, ",")
	}
	for _, key := range want {
		r := ts.do("POST", "/v1/uploads", wang.access, nil, "Tus-Resumable", "1.0.0",
			"Upload-Length", strconv.Itoa(len(body)), "Upload-Metadata", header(key))
		if r.status != 400 || r.errorCode() != "EINVALID" {
			t.Errorf("creation without %s: got %s, want 400 EINVALID", key, r)
		}
	}
	r := ts.do("POST", "/v1/uploads", wang.access, nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(body)), "Upload-Metadata", header(""))
	if r.status != 201 || r.header.Get("Location") == "" {
		t.Errorf("creation with every documented key: got %s (Location %q), want 201", r, r.header.Get("Location"))
	}
}

// undocumented lists the members of an answer that its schema does not
// name, at any depth ($refs followed; maps and untyped values are not
// looked into).
func undocumented(schemas map[string]any, schema map[string]any, v any, path string) []string {
	for {
		r, ok := schema["$ref"].(string)
		if !ok {
			break
		}
		schema, _ = schemas[strings.TrimPrefix(r, "#/components/schemas/")].(map[string]any)
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		props, ok := schema["properties"].(map[string]any)
		if !ok {
			return nil
		}
		for k, e := range x {
			p, ok := props[k].(map[string]any)
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, undocumented(schemas, p, e, path+"."+k)...)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, e := range x {
			out = append(out, undocumented(schemas, items, e, path+"[]")...)
		}
	}
	return out
}

// TestAnswersAsDocumented: real answers of the read endpoints (seeded
// data, every role needed) hold no member their documented schema lacks.
func TestAnswersAsDocumented(t *testing.T) {
	ts := startEvidenceServer(t, server.EvidencePolicy{})
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	ts.mustJSON("GET", "/v1/openapi.json", "", nil, 200, &doc)
	for _, tc := range []struct {
		user, path, route string
	}{
		{"", "/healthz", "/healthz"},
		{"admin", "/v1/admin/users", "/v1/admin/users"},
		{"admin", "/v1/admin/devices", "/v1/admin/devices"},
		{"county", "/v1/records/households/hV1a?history=1", "/v1/records/{collection}/{id}"},
		{"county", "/v1/conflicts?status=all", "/v1/conflicts"},
		{"auditor", "/v1/audit?area=340199", "/v1/audit"},
		{"county", "/v1/findings?area=340199", "/v1/findings"},
		{"county", "/v1/signatures?record=households/hV1a", "/v1/signatures"},
		{"wang", "/v1/sync/pull", "/v1/sync/pull"},
		{"county", "/v1/reports/compliance?area=340199&period=2026", "/v1/reports/compliance"},
	} {
		token := ""
		if tc.user != "" {
			token = ts.as(tc.user).access
		}
		r := ts.do("GET", tc.path, token, nil)
		if r.status != 200 {
			t.Errorf("GET %s: %s", tc.path, r)
			continue
		}
		var answer any
		if err := json.Unmarshal(r.body, &answer); err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		op := doc.Paths[tc.route]["get"]
		var schema map[string]any
		if resp, ok := op["responses"].(map[string]any)["200"].(map[string]any); ok {
			if content, ok := resp["content"].(map[string]any); ok {
				schema, _ = content["application/json"].(map[string]any)["schema"].(map[string]any)
			}
		}
		if schema == nil {
			t.Errorf("GET %s: no documented JSON answer", tc.route)
			continue
		}
		if extra := undocumented(doc.Components.Schemas, schema, answer, "answer"); len(extra) > 0 {
			slices.Sort(extra)
			t.Errorf("GET %s answers members the document lacks: %v", tc.path, slices.Compact(extra))
		}
	}
}
