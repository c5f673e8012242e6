package server

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/auth"
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

// desc returns a copy of schema s with a description.
func desc(s map[string]any, text string) map[string]any {
	out := make(map[string]any, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	out["description"] = text
	return out
}

func str(text string) map[string]any { return desc(tString, text) }

func integer(text string) map[string]any { return desc(tInt, text) }

func boolean(text string) map[string]any { return desc(tBool, text) }

func strs(text string) map[string]any { return desc(tStrings, text) }

func enum(text string, values ...string) map[string]any {
	return map[string]any{"type": "string", "enum": values, "description": text}
}

func anyJSON(text string) map[string]any { return map[string]any{"description": text} }

func timestamp(text string) map[string]any {
	return map[string]any{"type": "string", "format": "date-time", "description": text}
}

// hlcDoc says how an HLC is packed; every HLC of the API is this integer.
const hlcDoc = "Hybrid logical clock stamp, one unsigned 64-bit integer: milliseconds since the Unix epoch in the high 48 bits, " +
	"a logical counter in the low 16 (hlc = ms << 16 | counter). Comparing the integers orders stamps by (time, counter); " +
	"equal stamps are ordered by device id, then op id. At least 1 and at most 253402300799999 << 16 | 65535 (the end of year 9999). " +
	"The same integer in a pushed op (hlc), a pulled field (h), a record view's versions, its history and a conflict's candidates; " +
	"it exceeds 2^53, so a JavaScript client must read it losslessly (BigInt) or use the time beside it."

// baseDoc says what a field's base is.
const baseDoc = "The op id of the version of the field that the writer last saw (empty or absent: it saw none). " +
	"A write whose base is the current version's op id replaces it; two writes of different values from the same base are concurrent: " +
	"the higher stamp wins and a conflict is opened for a supervisor."

// areaDoc says what an area code is.
const areaDoc = "12-digit statistical area code of the village the record belongs to (province 2, city 2, county 2, township 3, village 3 digits): the record's partition and access key"

var (
	tString  = map[string]any{"type": "string"}
	tInt     = map[string]any{"type": "integer"}
	tBool    = map[string]any{"type": "boolean"}
	tStrings = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
)

func arrayOf(s any) map[string]any { return map[string]any{"type": "array", "items": s} }

func mapOf(s any) map[string]any { return map[string]any{"type": "object", "additionalProperties": s} }

// pathParamDocs describes the path parameters by name. Values are
// percent-decoded before use, so an id holding a character reserved in
// URLs is sent escaped.
var pathParamDocs = map[string]string{
	"collection": "collection name (households, visits …)",
	"id":         "the record's, conflict's, device's, housing case's or upload's id, percent-encoded where it holds a character reserved in URLs",
	"sha":        "hex sha256 of the blob",
	"username":   "the account's name",
}

// uploadMetadataHeaderDoc describes the tus Upload-Metadata header of an
// upload's creation.
const uploadMetadataHeaderDoc = "comma-separated pairs \"key base64(value)\" (tus 1.0), all required: " +
	"sha256 (hex sha256 of the whole file), kind (photo or signature), collection and record_id (the record that cites the file), " +
	"area (its 12-digit area code, within the caller's scope); see the UploadMetadata schema"

// uploadMetadataKeys are the tus Upload-Metadata keys POST /v1/uploads
// requires, with what each means.
var uploadMetadataKeys = map[string]any{
	"sha256":     str("hex sha256 of the whole file; the server verifies it when the last byte arrives and keeps the blob under it (a blob it already holds completes at once)"),
	"kind":       enum("what the file is", "photo", "signature"),
	"collection": str("collection of the record that cites the file (photos, signatures, visits …); the caller's role must be allowed to write it"),
	"record_id":  str("id of the record that cites the file (1 to 64 printable ASCII characters, no '/'); the record may arrive after the file"),
	"area":       desc(map[string]any{"type": "string", "pattern": "^[0-9]{12}$"}, areaDoc+"; it must be within the caller's scope"),
}

// openAPISchemas describes the JSON bodies by name. Every property has a
// description (TestOpenAPIDescribesEveryField).
func openAPISchemas() map[string]any {
	wireField := obj(map[string]any{
		"v":  anyJSON("the field's current value (any JSON)"),
		"h":  ref("HLC"),
		"d":  str("device id of the op that wrote the value"),
		"a":  str("username of the op's author"),
		"o":  str("id of the op that wrote the value: the base a later write names"),
		"b":  str("the base of that op for this field: " + baseDoc),
		"fl": strs("server flags on the write (restamped, clock_suspect, device_clock_off)"),
	}, "v", "h", "d", "a", "o")
	version := obj(map[string]any{
		"hlc":    ref("HLC"),
		"time":   timestamp("the wall-clock part of hlc"),
		"device": str("device id of the op that wrote the current value"),
		"author": str("username of its author"),
		"op_id":  str("id of that op"),
		"flags":  strs("server flags on the write (restamped, clock_suspect, device_clock_off)"),
	}, "hlc", "time", "device", "author", "op_id")
	historyOp := obj(map[string]any{
		"id":                   str("op id"),
		"author":               str("username of the op's author"),
		"device":               str("device id that made the op"),
		"hlc":                  ref("HLC"),
		"stated_hlc":           desc(ref("HLC"), "on a restamped op only: the stamp the tablet gave (the op carries the server's hlc instead)"),
		"set":                  desc(mapOf(map[string]any{}), "field name → value the op set"),
		"delete":               desc(obj(map[string]any{"reason": str("why the record was deleted")}, "reason"), "present when the op deleted the record"),
		"flags":                strs("server flags (restamped, clock_suspect, device_clock_off)"),
		"device_time":          timestamp("the tablet's clock when the op was made"),
		"server_time_estimate": timestamp("the tablet's estimate of server time when the op was made"),
		"received_at":          timestamp("when the server accepted the op"),
	}, "id", "author", "device", "hlc", "received_at")
	return map[string]any{
		"HLC": integer(hlcDoc),
		"Error": obj(map[string]any{
			"code":    enum("stable error code: EINVALID bad input, ENOTFOUND unknown or out of scope, ECONFLICT state forbids it, EUNAUTHORIZED no or bad token, EFORBIDDEN role or scope, EREVOKED revoked device (wipe), ETOOLARGE body or file too large, ETRANSIENT retry later, EINTERNAL a server bug (logged)", "EINVALID", "ENOTFOUND", "ECONFLICT", "EUNAUTHORIZED", "EFORBIDDEN", "EREVOKED", "ETOOLARGE", "ETRANSIENT", "EINTERNAL"),
			"message": str("what went wrong, for people"),
		}, "code", "message"),
		"Health": obj(map[string]any{
			"status": str("ok when the store answers"),
			"epoch":  str("random id of the store's lineage; a restored store has a new one and tablets pull everything again"),
			"seq":    integer("sequence number of the last change in the change feed"),
			"store":  enum("the storage engine the server runs on", "bbolt", "postgres"),
			"schema": integer("version of the store's layout (for postgres, the last migration applied; a server refuses a database migrated past what it knows)"),
		}),
		"LoginRequest": obj(map[string]any{"username": str("account name"), "password": str("the account's password")}, "username", "password"),
		"RefreshRequest": obj(map[string]any{
			"refresh_token": str("the device's current refresh token; it is rotated: the answer carries the next one and this one stops working"),
		}, "refresh_token"),
		"EnrollRequest": obj(map[string]any{
			"name":       str("the tablet's name for people (\"王的平板\")"),
			"public_key": str("base64 ed25519 public key of the tablet; push batches are signed with its private key"),
		}, "public_key"),
		"User": obj(map[string]any{
			"username":     str("account name"),
			"display_name": str("name shown to people"),
			"role":         enum("the account's role", auth.Roles...),
			"scopes":       strs("area-code prefixes the account may see and write (\"\" for everything, admins only)"),
			"disabled":     boolean("true when an admin disabled the account (left out otherwise): it cannot log in, refresh or use its tokens"),
		}),
		"UserUpdate": obj(map[string]any{
			"role":         enum("the account's new role; its scopes (new or kept) must suit it", auth.Roles...),
			"scopes":       strs("the account's new area-code prefixes (2 to 12 digits; \"\" for everything, admins only), replacing the old ones"),
			"disabled":     boolean("true disables the account, false enables it again"),
			"display_name": str("new name shown to people, at most 100 bytes"),
		}),
		"UserList": obj(map[string]any{"users": desc(arrayOf(ref("User")), "every account, in username order")}),
		"UserInput": obj(map[string]any{
			"username":     str("account name, unique"),
			"password":     str("initial password"),
			"role":         enum("the account's role", auth.Roles...),
			"scopes":       strs("area-code prefixes (2 to 12 digits) the account may see and write"),
			"display_name": str("name shown to people"),
		}, "username", "password", "role", "scopes"),
		"DeviceList": obj(map[string]any{"devices": desc(arrayOf(obj(map[string]any{
			"id":          str("device id"),
			"username":    str("the account that enrolled it"),
			"name":        str("the tablet's name"),
			"enrolled_at": timestamp("when it was enrolled"),
			"revoked_at":  timestamp("when it was revoked; absent while it is not"),
		})), "every enrolled device, in id order")}),
		"Revoked": obj(map[string]any{"revoked": str("id of the device now revoked")}),
		"KeyShare": obj(map[string]any{
			"share":            str("base64 of the device's 32-byte key share; the same at every call for one enrolment"),
			"lease_until":      timestamp("server time after which the tablet may no longer read personal fields without asking again"),
			"lease_seconds":    integer("the lease's length (tablet_keys.lease_days)"),
			"max_pin_failures": integer("wrong PINs in a row after which the tablet wipes its data (tablet_keys.max_pin_failures)"),
		}, "share", "lease_until", "lease_seconds", "max_pin_failures"),
		"AuditList": obj(map[string]any{
			"next_before": integer("seq to pass as before for the next (older) page; absent on the last page"),
			"entries": desc(arrayOf(obj(map[string]any{
				"seq":    integer("position in the chain, from 1"),
				"time":   timestamp("when the event was recorded"),
				"kind":   enum("what happened", "push", "resolve", "login", "login_failed", "enroll", "revoke", "user", "import", "export"),
				"actor":  str("username of who acted (empty for none)"),
				"device": str("enrolled device id; absent for console and CLI actions"),
				"area":   str("area-code prefix the event concerns (empty: everything)"),
				"detail": desc(mapOf(tString), "the event's facts as text (counts, batch digest, device signature, conflict id …)"),
				"prev":   str("hex sha256 hash of the previous entry (zeros for the first)"),
				"hash":   str("hex sha256(prev || canonical form of this entry)"),
			}, "seq", "time", "kind", "prev", "hash")), "entries concerning the area, newest first"),
		}, "entries"),
		"TokenResponse": obj(map[string]any{
			"access_token":  str("short-lived JWT for the Authorization: Bearer header"),
			"token_type":    str("always Bearer"),
			"expires_in":    integer("seconds until the access token expires"),
			"refresh_token": str("device-bound refresh token (enrolment and refresh only); keep it secret"),
			"device_id":     str("the enrolled device's id (enrolment and refresh only)"),
			"user":          desc(ref("User"), "the signed-in account"),
		}, "access_token"),
		"WireOp": obj(map[string]any{
			"id":   str("op id, unique everywhere (a ULID made on the tablet); a resend of an accepted op is acknowledged again and changes nothing"),
			"rid":  str("record id (1 to 64 printable ASCII characters, no '/')"),
			"col":  str("collection name (households, visits, photos …)"),
			"area": desc(map[string]any{"type": "string", "pattern": "^[0-9]{12}$"}, areaDoc),
			"by":   str("username of the author; must be the caller"),
			"dev":  str("device id that made the op; must be the caller's device"),
			"hlc":  ref("HLC"),
			"set":  desc(mapOf(map[string]any{}), "field name → new value (any JSON); names starting with _ are reserved"),
			"del":  desc(obj(map[string]any{"reason": str("why the record is deleted (required: evidence is never deleted silently)")}, "reason"), "present when the op deletes the record instead of setting fields"),
			"base": desc(mapOf(tString), "for each field the op sets: "+baseDoc),
			"dt":   integer("the tablet's clock when the op was made, ms since the Unix epoch"),
			"st":   integer("the tablet's estimate of server time then (its clock plus the offset measured at its last sync), ms"),
			"cs":   boolean("the tablet suspects its clock (it moved backwards or jumped)"),
		}, "id", "rid", "col", "area", "by", "dev", "hlc"),
		"PushRequest": obj(map[string]any{
			"ops":         desc(arrayOf(ref("WireOp")), "up to 1000 ops; each is acknowledged or rejected on its own"),
			"device_time": integer("the tablet's clock when it sent the batch, ms since the Unix epoch"),
		}, "ops"),
		"PushResponse": obj(map[string]any{
			"acked": strs("ids of the ops applied now or before"),
			"rejected": desc(arrayOf(obj(map[string]any{
				"op_id":   str("the rejected op"),
				"code":    str("error code (EINVALID, EFORBIDDEN, ECONFLICT …)"),
				"message": str("why; procedure refusals start with their rules code"),
			})), "ops refused, each with its reason; the batch's other ops are unaffected"),
			"flagged": desc(arrayOf(obj(map[string]any{
				"op_id": str("the flagged op"),
				"flags": strs("flags the server set (restamped, device_clock_off …)"),
				"hlc":   desc(ref("HLC"), "the stamp the server gave a restamped op; the tablet stores it instead of its own"),
			})), "accepted ops the server flagged"),
			"server_time": integer("server clock, ms since the Unix epoch (tablets measure their offset with it)"),
		}, "acked", "server_time"),
		"WireRecord": obj(map[string]any{
			"id":   str("record id"),
			"col":  str("collection name"),
			"area": str(areaDoc),
			"f":    desc(mapOf(wireField), "field name → current version; a deleted record has the field _deleted"),
			"seq":  integer("optional, informative: the record's position in the serving store's change feed (bbolt stores send it); clients resume from the pull's cursor, never from seq"),
		}),
		"PullResponse": obj(map[string]any{
			"records":     desc(arrayOf(ref("WireRecord")), "in-scope records changed since the cursor, each with its full merged state"),
			"cursor":      str("opaque position to send next time"),
			"more":        boolean("another page is ready now"),
			"reset":       boolean("the cursor was unknown (a restored server): drop the copy of server state, keep and re-push own ops, pull everything from the returned cursor"),
			"server_time": integer("server clock, ms since the Unix epoch"),
		}, "records", "cursor", "more", "reset"),
		"RecordResponse": obj(map[string]any{
			"record": desc(obj(map[string]any{
				"id":            str("record id"),
				"collection":    str("collection name"),
				"area":          str(areaDoc),
				"fields":        desc(mapOf(map[string]any{}), "field name → current value"),
				"versions":      desc(mapOf(version), "field name → who wrote the current value, when (hlc) and its flags"),
				"deleted":       boolean("the record was deleted"),
				"delete_reason": str("why it was deleted"),
				"flags":         strs("the union of its fields' flags"),
				"updated_at":    timestamp("wall-clock part of the highest hlc among its fields"),
			}), "the record's merged state"),
			"history":          desc(arrayOf(historyOp), "with ?history=1: every accepted op of the record, in acceptance order"),
			"evidence":         desc(ref("EvidenceManifest"), "for a record that cites files: whether they arrived"),
			"signature_status": enum("for a signatures record: valid, stale (the signed record changed after signing) or invalid", "valid", "stale", "invalid"),
			"housing_evidence": desc(ref("HousingEvidence"), "for a housing case: whether its evidence is complete"),
		}),
		"EvidenceManifest": obj(map[string]any{
			"status":  enum("complete when every cited file is verified and stored", "complete", "incomplete"),
			"cited":   strs("sha256 of every file the record cites, sorted"),
			"missing": strs("cited files not (yet) verified and stored"),
			"unusable": desc(arrayOf(obj(map[string]any{
				"sha256": str("the file"),
				"reason": str("why it is not a usable image"),
			})), "cited files that arrived intact but are not usable images"),
		}, "status", "cited", "missing"),
		"HousingEvidence": obj(map[string]any{
			"case_id":  str("the housing case"),
			"complete": boolean("before and after photos, the after one later and near, and a valid acceptance signature by the household head"),
			"missing":  strs("what is missing, in zh-CN"),
		}, "case_id", "complete", "missing"),
		"ComplianceReport": obj(map[string]any{
			"area":  str("the area-code prefix reported on"),
			"as_of": timestamp("when the report was computed"),
			"period": desc(obj(map[string]any{
				"label": str("the period as asked (2026, 2026H2, 2026Q3, 2026-11)"),
				"unit":  str("year, half, quarter or month"),
				"start": timestamp("first instant of the period (China Standard Time)"),
				"end":   timestamp("first instant after the period"),
			}), "the reported period"),
			"summary": desc(map[string]any{"type": "object"}, "roll-up tree: county → township → village, each node with counts per finding kind and its children"),
			"lists":   desc(map[string]any{"type": "object"}, "the findings behind the counts, one list per kind (identity numbers masked)"),
		}),
		"HouseholdImport": obj(map[string]any{
			"imported":  integer("rows that changed the store"),
			"unchanged": integer("good rows whose records already held what the row says"),
			"problems": desc(arrayOf(obj(map[string]any{
				"row":    integer("spreadsheet row number"),
				"column": str("column header (zh-CN)"),
				"code":   str("stable problem code"),
				"reason": str("the problem in zh-CN (identity numbers masked)"),
			})), "every problem of every refused row, in row order"),
		}, "imported", "unchanged", "problems"),
		"BlobInfo": obj(map[string]any{
			"sha256":      str("hex sha256 of the bytes: the blob's id"),
			"size":        integer("bytes"),
			"kind":        enum("what the file is", "photo", "signature"),
			"status":      enum("processing (being checked), ready, or failed (not a usable image)", "processing", "ready", "failed"),
			"reason":      str("why processing failed"),
			"type":        str("MIME type found in the bytes"),
			"width":       integer("image width in pixels"),
			"height":      integer("image height in pixels"),
			"taken_at":    timestamp("EXIF capture time"),
			"gps":         desc(obj(map[string]any{"lat": desc(map[string]any{"type": "number"}, "latitude, degrees"), "lon": desc(map[string]any{"type": "number"}, "longitude, degrees")}), "EXIF position"),
			"gps_time":    timestamp("EXIF GPS time"),
			"phash":       str("perceptual hash (hex), for near-duplicate findings"),
			"uploaded_by": str("username of the first uploader"),
			"refs": desc(arrayOf(obj(map[string]any{
				"collection":  str("collection of a record the blob was uploaded for"),
				"record_id":   str("that record's id"),
				"area":        str(areaDoc),
				"uploaded_by": str("who uploaded it for that record"),
				"uploaded_at": timestamp("when"),
			})), "the records the caller may see that the blob was uploaded for"),
			"ref_count":  integer("how many records the blob was uploaded for in all"),
			"created_at": timestamp("when the blob was first stored"),
		}),
		"FindingList": obj(map[string]any{
			"area":    str("the area-code prefix searched"),
			"summary": str("one line in zh-CN"),
			"counts":  desc(mapOf(tInt), "finding kind → how many"),
			"findings": desc(arrayOf(obj(map[string]any{
				"kind":          enum("what is doubtful", "reused_photo", "exif_time_mismatch", "exif_gps_mismatch", "after_before_before", "before_after_far_apart"),
				"title":         str("zh-CN title"),
				"detail":        str("zh-CN explanation"),
				"photos":        desc(arrayOf(obj(map[string]any{"record": str("<collection>/<id> of the citing record"), "sha256": str("the photo")})), "the photos involved"),
				"household_ids": strs("households concerned"),
				"case_id":       str("housing case concerned, if any"),
				"hash_bits":     integer("perceptual-hash distance in bits (near copies)"),
				"delta_seconds": integer("time difference in seconds"),
				"metres":        desc(map[string]any{"type": "number"}, "distance in metres"),
			}, "kind", "title", "detail", "photos", "household_ids")), "each doubtful photo or pair"),
		}, "area", "findings"),
		"SignatureList": obj(map[string]any{
			"record": str("<collection>/<id> of the signed record"),
			"signatures": desc(arrayOf(obj(map[string]any{
				"id":                     str("signatures record id"),
				"area":                   str(areaDoc),
				"signer_name":            str("who signed"),
				"signer_role":            str("as what (household_head, officer …)"),
				"purpose":                str("what the signature attests (acceptance …)"),
				"signed_at":              str("when, as the tablet recorded it"),
				"device_id":              str("the enrolled device that signed"),
				"signature_status":       enum("valid, stale (the record changed after signing) or invalid (the device's signature does not verify)", "valid", "stale", "invalid"),
				"signature_status_title": str("the status in zh-CN"),
			}, "id", "signature_status")), "the record's signatures"),
		}, "record", "signatures"),
		"Conflict": obj(map[string]any{
			"id":         str("conflict id (derived from the op that opened it and the field)"),
			"collection": str("collection of the record"),
			"record_id":  str("the record"),
			"area":       str(areaDoc),
			"field":      str("the field written concurrently"),
			"status":     enum("open or resolved", "open", "resolved"),
			"opened_at":  timestamp("when the server saw the concurrent write"),
			"candidates": desc(arrayOf(obj(map[string]any{
				"value":  anyJSON("the value this write set"),
				"author": str("its author"),
				"device": str("its device"),
				"hlc":    ref("HLC"),
				"time":   timestamp("the wall-clock part of hlc"),
				"op_id":  str("the op"),
				"winner": boolean("the merge winner (the first candidate), the value the record holds"),
			})), "the concurrent writes, winner first"),
			"resolution": desc(obj(map[string]any{
				"by":    str("the supervisor who decided"),
				"at":    timestamp("when"),
				"value": anyJSON("the value chosen"),
				"op_id": str("the op that applied a value other than the winner"),
				"note":  str("the supervisor's note"),
			}, "by", "at", "value"), "present once resolved"),
		}),
		"ConflictList": obj(map[string]any{"conflicts": desc(arrayOf(ref("Conflict")), "conflicts in the caller's scope")}),
		"ResolveRequest": obj(map[string]any{
			"value": anyJSON("the chosen value; absent confirms the merge winner"),
			"note":  str("why (kept with the resolution)"),
		}),
		"EditRecordRequest": obj(map[string]any{
			"area": str(areaDoc + "; needed only for a new record"),
			"set":  desc(mapOf(map[string]any{}), "field name → new value"),
		}, "set"),
		"UploadMetadata": desc(obj(uploadMetadataKeys, "sha256", "kind", "collection", "record_id", "area"),
			"The keys of the tus Upload-Metadata header of POST /v1/uploads, all required: comma-separated pairs \"key base64(value)\" (tus 1.0), not a JSON body"),
	}
}

// OpenAPI returns the OpenAPI 3 document of every mounted endpoint.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, r := range s.routes {
		op := map[string]any{"summary": r.summary, "tags": []string{r.tag}, "operationId": strings.ToLower(r.method) + strings.ReplaceAll(openAPIPath(r.path), "/", "_")}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": tString, "description": pathParamDocs[m[1]]})
		}
		for name, text := range r.query {
			params = append(params, map[string]any{"name": name, "in": "query", "description": text, "schema": tString})
		}
		for name, text := range r.headers {
			p := map[string]any{"name": name, "in": "header", "required": name != "Upload-Checksum", "description": text, "schema": tString}
			if name == "Upload-Metadata" {
				p["x-ruhu-keys"] = ref("UploadMetadata")
			}
			params = append(params, p)
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.request != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(r.request)}}}
		}
		if r.body != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{r.body: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
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
