package schemas

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// shippedFS copies the embedded files so a test can break one of them.
func shippedFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(shipped, "json", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := shipped.ReadFile(path)
		m[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// New must refuse every kind of broken schema set it promises to catch.
func TestLoadRefusesBrokenSchemas(t *testing.T) {
	const minimal = `{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://ruhu.dev/schemas/notes.v1.json",
		"x-ruhu":{"appendOnly":false},"type":"object","properties":{"text":{"type":"string","maxLength":9}},"additionalProperties":false}`
	tests := []struct {
		name    string
		file    string // under json/
		content string // "" deletes the file
		wantErr string
	}{
		{"not JSON", "notes.v1.json", `{"$id":`, "decode schema"},
		{"wrong $id", "notes.v1.json", strings.Replace(minimal, "notes.v1", "other.v1", 1), "$id is"},
		{"bad file name", "Notes.json", minimal, "name is not"},
		{"invalid keyword value", "notes.v1.json", strings.Replace(minimal, `"maxLength":9`, `"maxLength":"nine"`, 1), "compile schema"},
		{"broken pattern", "notes.v1.json", strings.Replace(minimal, `"maxLength":9`, `"pattern":"^[a-"`, 1), "compile schema"},
		{"dangling $ref", "notes.v1.json", strings.Replace(minimal, `"type":"string","maxLength":9`, `"$ref":"defs/missing.v1.json#/$defs/x"`, 1), "compile schema"},
		{"$ref with a clashing sibling", "notes.v1.json", strings.Replace(minimal, `"type":"string","maxLength":9`, `"$ref":"defs/common.v1.json#/$defs/note","maxLength":5`, 1), "beside $ref"},
		{"unknown fields allowed", "notes.v1.json", strings.Replace(minimal, `,"additionalProperties":false`, ``, 1), "additionalProperties must be false"},
		{"no policy", "notes.v1.json", strings.Replace(minimal, `"x-ruhu":{"appendOnly":false},`, ``, 1), `missing "x-ruhu"`},
		{"policy without appendOnly", "notes.v1.json", strings.Replace(minimal, `{"appendOnly":false}`, `{}`, 1), "appendOnly must be stated"},
		{"misspelt policy key", "notes.v1.json", strings.Replace(minimal, `"appendOnly":false`, `"appendOnly":false,"citeBlobs":[]`, 1), "unknown field"},
		{"annotation on mutable collection", "notes.v1.json", strings.Replace(minimal, `"appendOnly":false`, `"appendOnly":false,"annotations":["text"]`, 1), "only meaningful"},
		{"policy names a missing field", "notes.v1.json", strings.Replace(minimal, `"appendOnly":false`, `"appendOnly":true,"annotations":["review_note"]`, 1), `"review_note"`},
		{"cited blob field is not a hash", "notes.v1.json", strings.Replace(minimal, `"appendOnly":false`, `"appendOnly":false,"citesBlobs":["text"]`, 1), "not a sha256"},
		{"rule reads a field the schema lost", "villages.v1.json", strings.Replace(string(mustRead(t, "json/villages.v1.json")), `"township_code": {`, `"township": {`, 1), `reads field "township_code"`},
		{"no collections", "", "", "no collection schemas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := shippedFS(t)
			if tc.file == "" {
				for name := range fsys {
					if !strings.HasPrefix(name, "json/defs/") {
						delete(fsys, name)
					}
				}
			} else {
				fsys["json/"+tc.file] = &fstest.MapFile{Data: []byte(tc.content)}
			}
			_, err := load(fsys)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("load: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadUsesHighestVersion(t *testing.T) {
	fsys := shippedFS(t)
	v2 := strings.NewReplacer(`"$id": "https://ruhu.dev/schemas/teams.v1.json"`, `"$id": "https://ruhu.dev/schemas/teams.v2.json"`,
		`"first_secretary"`, `"first_secretary_v2"`).Replace(string(mustRead(t, "json/teams.v1.json")))
	fsys["json/teams.v2.json"] = &fstest.MapFile{Data: []byte(v2)}
	r, err := load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version("teams") != 2 || r.Version("visits") != 1 {
		t.Errorf("versions teams %d visits %d, want 2 and 1", r.Version("teams"), r.Version("visits"))
	}
	if fields := r.Fields("teams"); !strings.Contains(strings.Join(fields, ","), "first_secretary_v2") {
		t.Errorf("teams fields %v are not v2's", fields)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := shipped.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
