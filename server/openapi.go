package server

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

var pathParam = regexp.MustCompile(`:([a-z_]+)`)

// openAPIPath turns fiber's ":name" parameters into OpenAPI's "{name}".
func openAPIPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

func obj(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

var (
	tString  = map[string]any{"type": "string"}
	tInt     = map[string]any{"type": "integer"}
	tBool    = map[string]any{"type": "boolean"}
	tAny     = map[string]any{}
	tStrings = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
)

func arrayOf(s any) map[string]any { return map[string]any{"type": "array", "items": s} }

func mapOf(s any) map[string]any { return map[string]any{"type": "object", "additionalProperties": s} }

// openAPISchemas describes the JSON bodies by name.
func openAPISchemas() map[string]any {
	wireField := obj(map[string]any{"v": tAny, "h": tInt, "d": tString, "a": tString, "o": tString, "b": tString, "fl": tStrings}, "v", "h", "d", "a", "o")
	return map[string]any{
		"Error":          obj(map[string]any{"code": map[string]any{"type": "string", "enum": []string{"EINVALID", "ENOTFOUND", "ECONFLICT", "EUNAUTHORIZED", "EFORBIDDEN", "EREVOKED", "ETOOLARGE", "ETRANSIENT", "EINTERNAL"}}, "message": tString}, "code", "message"),
		"Health":         obj(map[string]any{"status": tString, "epoch": tString, "seq": tInt}),
		"LoginRequest":   obj(map[string]any{"username": tString, "password": tString}, "username", "password"),
		"RefreshRequest": obj(map[string]any{"refresh_token": tString}, "refresh_token"),
		"EnrollRequest":  obj(map[string]any{"name": tString, "public_key": map[string]any{"type": "string", "description": "base64 ed25519 public key"}}, "public_key"),
		"User":           obj(map[string]any{"username": tString, "display_name": tString, "role": tString, "scopes": tStrings}),
		"UserList":       obj(map[string]any{"users": arrayOf(ref("User"))}),
		"UserInput":      obj(map[string]any{"username": tString, "password": tString, "role": map[string]any{"type": "string", "enum": []string{"officer", "team_member", "township", "county", "auditor", "admin"}}, "scopes": tStrings, "display_name": tString}, "username", "password", "role", "scopes"),
		"DeviceList":     obj(map[string]any{"devices": arrayOf(obj(map[string]any{"id": tString, "username": tString, "name": tString, "enrolled_at": tString, "revoked_at": tString}))}),
		"Revoked":        obj(map[string]any{"revoked": tString}),
		"KeyShare": obj(map[string]any{
			"share":            str("base64 of the device's 32-byte key share; the same at every call for one enrolment"),
			"lease_until":      timestamp("server time after which the tablet may no longer read personal fields without asking again"),
			"lease_seconds":    integer("the lease's length (tablet_keys.lease_days)"),
			"max_pin_failures": integer("wrong PINs in a row after which the tablet wipes its data (tablet_keys.max_pin_failures)"),
		}, "share", "lease_until", "lease_seconds", "max_pin_failures"),
		"AuditList": obj(map[string]any{"next_before": tInt, "entries": arrayOf(obj(map[string]any{"seq": tInt, "time": tString, "kind": map[string]any{"type": "string", "enum": []string{"push", "resolve", "login", "login_failed", "enroll", "revoke", "user", "import", "export"}},
			"actor": tString, "device": tString, "area": tString, "detail": mapOf(tString), "prev": tString, "hash": tString}, "seq", "time", "kind", "prev", "hash"))}, "entries"),
		"TokenResponse": obj(map[string]any{"access_token": tString, "token_type": tString, "expires_in": tInt, "refresh_token": tString, "device_id": tString, "user": ref("User")}, "access_token"),
		"WireOp": obj(map[string]any{"id": tString, "rid": tString, "col": tString, "area": map[string]any{"type": "string", "pattern": "^[0-9]{12}$"},
			"by": tString, "dev": tString, "hlc": tInt, "set": mapOf(tAny), "del": obj(map[string]any{"reason": tString}, "reason"),
			"base": mapOf(tString), "dt": tInt, "st": tInt, "cs": tBool}, "id", "rid", "col", "area", "by", "dev", "hlc"),
		"PushRequest":  obj(map[string]any{"ops": arrayOf(ref("WireOp")), "device_time": tInt}, "ops"),
		"PushResponse": obj(map[string]any{"acked": tStrings, "rejected": arrayOf(obj(map[string]any{"op_id": tString, "code": tString, "message": tString})), "flagged": arrayOf(obj(map[string]any{"op_id": tString, "flags": tStrings, "hlc": tInt})), "server_time": tInt}, "acked", "server_time"),
		"WireRecord":   obj(map[string]any{"id": tString, "col": tString, "area": tString, "f": mapOf(wireField)}),
		"PullResponse": obj(map[string]any{"records": arrayOf(ref("WireRecord")), "cursor": tString, "more": tBool, "reset": tBool, "server_time": tInt}, "records", "cursor", "more", "reset"),
		"RecordResponse": obj(map[string]any{"record": obj(map[string]any{"id": tString, "collection": tString, "area": tString, "fields": mapOf(tAny),
			"versions": mapOf(obj(map[string]any{"hlc": tString, "device": tString, "author": tString, "op_id": tString, "flags": tStrings})),
			"deleted":  tBool, "delete_reason": tString, "flags": tStrings, "updated_at": tString}), "history": arrayOf(mapOf(tAny)),
			"evidence":         ref("EvidenceManifest"),
			"signature_status": map[string]any{"type": "string", "enum": []string{"valid", "stale", "invalid"}},
			"housing_evidence": ref("HousingEvidence")}),
		"EvidenceManifest": obj(map[string]any{"status": map[string]any{"type": "string", "enum": []string{"complete", "incomplete"}}, "cited": tStrings, "missing": tStrings,
			"unusable": arrayOf(obj(map[string]any{"sha256": tString, "reason": tString}))}, "status", "cited", "missing"),
		"HousingEvidence": obj(map[string]any{"case_id": tString, "complete": tBool, "missing": tStrings}, "case_id", "complete", "missing"),
		"ComplianceReport": obj(map[string]any{"area": tString, "as_of": tString,
			"period":  obj(map[string]any{"label": tString, "unit": tString, "start": tString, "end": tString}),
			"summary": map[string]any{"type": "object", "description": "roll-up tree: county → township → village, each node with counts per finding kind and its children"},
			"lists":   map[string]any{"type": "object", "description": "the findings behind the counts, one list per kind (identity numbers masked)"}}),
		"HouseholdImport": obj(map[string]any{"imported": tInt, "unchanged": tInt,
			"problems": arrayOf(obj(map[string]any{"row": tInt, "column": tString, "code": tString, "reason": tString}))}, "imported", "unchanged", "problems"),
		"BlobInfo": obj(map[string]any{"sha256": tString, "size": tInt, "kind": tString, "status": map[string]any{"type": "string", "enum": []string{"processing", "ready", "failed"}},
			"reason": tString, "type": tString, "width": tInt, "height": tInt, "taken_at": tString, "gps": mapOf(tAny), "gps_time": tString,
			"phash": tString, "uploaded_by": tString, "refs": arrayOf(mapOf(tAny)), "ref_count": tInt, "created_at": tString}),
		"FindingList": obj(map[string]any{"area": tString, "summary": tString, "counts": mapOf(tInt), "findings": arrayOf(obj(map[string]any{
			"kind":  map[string]any{"type": "string", "enum": []string{"reused_photo", "exif_time_mismatch", "exif_gps_mismatch", "after_before_before", "before_after_far_apart"}},
			"title": tString, "detail": tString, "photos": arrayOf(obj(map[string]any{"record": tString, "sha256": tString})), "household_ids": tStrings, "case_id": tString,
			"hash_bits": tInt, "delta_seconds": tInt, "metres": map[string]any{"type": "number"}}, "kind", "title", "detail", "photos", "household_ids"))}, "area", "findings"),
		"SignatureList": obj(map[string]any{"record": tString, "signatures": arrayOf(obj(map[string]any{"id": tString, "area": tString, "signer_name": tString, "signer_role": tString,
			"purpose": tString, "signed_at": tString, "device_id": tString, "signature_status": map[string]any{"type": "string", "enum": []string{"valid", "stale", "invalid"}},
			"signature_status_title": tString}, "id", "signature_status"))}, "record", "signatures"),
		"Conflict": obj(map[string]any{"id": tString, "collection": tString, "record_id": tString, "area": tString, "field": tString, "status": tString, "opened_at": tString,
			"candidates": arrayOf(obj(map[string]any{"value": tAny, "author": tString, "device": tString, "hlc": tString, "time": tString, "op_id": tString, "winner": tBool})),
			"resolution": obj(map[string]any{"by": tString, "at": tString, "value": tAny, "op_id": tString, "note": tString}, "by", "at", "value")}),
		"ConflictList":      obj(map[string]any{"conflicts": arrayOf(ref("Conflict"))}),
		"ResolveRequest":    obj(map[string]any{"value": tAny, "note": tString}),
		"EditRecordRequest": obj(map[string]any{"area": tString, "set": mapOf(tAny)}, "set"),
	}
}

// OpenAPI returns the OpenAPI 3 document of every mounted endpoint.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, r := range s.routes {
		op := map[string]any{"summary": r.summary, "tags": []string{r.tag}, "operationId": strings.ToLower(r.method) + strings.ReplaceAll(openAPIPath(r.path), "/", "_")}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": tString})
		}
		for name, desc := range r.query {
			params = append(params, map[string]any{"name": name, "in": "query", "description": desc, "schema": tString})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.request != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(r.request)}}}
		}
		if r.auth != authNone {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		status := r.status
		if status == 0 {
			status = 200
		}
		ok := map[string]any{"description": "success"}
		if r.response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(r.response)}}
		}
		errResp := map[string]any{"description": "error with a stable code", "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}}
		op["responses"] = map[string]any{strconv.Itoa(status): ok, "default": errResp}
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "ruhu API", "version": "1", "description": "Offline-first field data collection: sync, records, conflicts."},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         openAPISchemas(),
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
		},
	}
}

func (s *Server) handleOpenAPI(c *fiber.Ctx) error { return c.JSON(s.OpenAPI()) }
