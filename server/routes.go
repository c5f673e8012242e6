package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/uploads"
)

// route is one endpoint: how it is mounted and how the OpenAPI document
// describes it. The document is generated from this same table, so it
// cannot forget an endpoint.
type route struct {
	method, path string
	auth         authLevel
	handler      fiber.Handler
	summary      string
	tag          string
	request      string            // OpenAPI schema name of the JSON body, "" for none
	response     string            // OpenAPI schema name of the 2xx body
	status       int               // success status (default 200)
	query        map[string]string // query parameter -> description
	headers      map[string]string // request header -> description
	body         string            // media type of a request body that is not JSON
}

func (s *Server) routeTable() []route {
	routes := []route{
		{method: "GET", path: "/healthz", auth: authNone, handler: s.handleHealth, summary: "Liveness and store check", tag: "ops", response: "Health"},
		{method: "GET", path: "/metrics", auth: authNone, handler: s.metrics.handler(), summary: "Prometheus metrics", tag: "ops", response: ""},
		{method: "GET", path: "/v1/openapi.json", auth: authNone, handler: s.handleOpenAPI, summary: "This document", tag: "ops", response: ""},
		{method: "POST", path: "/v1/auth/login", auth: authNone, handler: s.handleLogin, summary: "Password login; returns a short-lived access token", tag: "auth", request: "LoginRequest", response: "TokenResponse"},
		{method: "POST", path: "/v1/auth/refresh", auth: authNone, handler: s.handleRefresh, summary: "Exchange a device's refresh token (rotated) for a new access token; EREVOKED for a revoked device", tag: "auth", request: "RefreshRequest", response: "TokenResponse"},
		{method: "POST", path: "/v1/devices", auth: authUser, handler: s.handleEnroll, summary: "Enroll a tablet with its ed25519 public key; returns a device-bound refresh token", tag: "auth", request: "EnrollRequest", response: "TokenResponse", status: 201},
		{method: "POST", path: "/v1/device/key-share", auth: authDevice, handler: s.handleKeyShare, summary: "The calling device's share of the key that unseals personal fields on the tablet (combined there with the officer's PIN), with a lease from the tablet_keys policy; asked at each sync. EREVOKED for a revoked device, which never gets it again", tag: "auth", response: "KeyShare"},
		{method: "POST", path: "/v1/sync/push", auth: authDevice, handler: s.handlePush, summary: "Push a batch of ops; each is acknowledged or rejected on its own. Header Ruhu-Batch-Signature: base64 ed25519 signature by the enrolled device key over syncengine.BatchMessage(device id, sha256 of the body before gzip); a bad one is EFORBIDDEN for the whole batch", tag: "sync", request: "PushRequest", response: "PushResponse"},
		{method: "GET", path: "/v1/audit", auth: authUser, handler: s.handleAudit, summary: "The hash-chained audit trail of an area, newest first: push batches (digest, device signature), resolutions, logins and failed logins, enrolments, revocations, account changes, imports and exports (report and ledger downloads with the file's sha256) (auditor, county, admin; the area must be within the caller's scope)", tag: "audit", response: "AuditList",
			query: map[string]string{"area": "area-code prefix, 2 to 12 digits (required; admins may leave it empty for everything)", "before": "entry sequence to page below (next_before of the previous page)", "limit": "page size, 1 to 1000 (default 100)"}},
		{method: "GET", path: "/v1/sync/pull", auth: authDevice, handler: s.handlePull, summary: "Pull in-scope records changed since a cursor, in pages", tag: "sync", response: "PullResponse",
			query: map[string]string{"cursor": "opaque cursor from the previous pull; empty for everything", "limit": "page size, 1 to 2000 (default 500)"}},
		{method: "GET", path: "/v1/records/:collection/:id", auth: authUser, handler: s.handleGetRecord, summary: "A record's merged state with per-field versions and flags; ?history=1 adds every accepted op. A record citing blobs carries evidence {status complete|incomplete, cited, missing}; a signatures record signature_status; a housing case housing_evidence {complete, missing}", tag: "records", response: "RecordResponse",
			query: map[string]string{"history": "1 to include the op history"}},
		{method: "POST", path: "/v1/records/:collection/:id", auth: authUser, handler: s.handleEditRecord, summary: "Create or change one record without a tablet (township and county users: review states of visits, check-ins and photos, rectification ledger items, township and county exit steps): the admission of a pushed op — role, scope, schema, append-only annotations and the exit, ledger and review procedures; a refusal's message starts with its rules code (review_wrong_role, ledger_same_user, exit_notice_too_short …). area is needed only for a new record", tag: "records", request: "EditRecordRequest", response: "RecordResponse"},
		{method: "GET", path: "/v1/conflicts", auth: authUser, handler: s.handleListConflicts, summary: "Conflicts in scope", tag: "conflicts", response: "ConflictList",
			query: map[string]string{"status": "open (default), resolved or all", "area": "area-code prefix"}},
		{method: "POST", path: "/v1/conflicts/:id/resolve", auth: authUser, handler: s.handleResolve, summary: "Confirm the winner or choose another value (township, county, admin)", tag: "conflicts", request: "ResolveRequest", response: "Conflict"},
		{method: "POST", path: "/v1/admin/users", auth: authAdmin, handler: s.handleAddUser, summary: "Create a user", tag: "admin", request: "UserInput", response: "User", status: 201},
		{method: "GET", path: "/v1/admin/users", auth: authAdmin, handler: s.handleListUsers, summary: "List users", tag: "admin", response: "UserList"},
		{method: "PATCH", path: "/v1/admin/users/:username", auth: authAdmin, handler: s.handleUpdateUser, summary: "Change another account's role, scopes, display name or disabled flag (a field left out is unchanged); recorded in the audit log with the role and scopes before and after. A disabled account cannot log in, refresh or use its tokens or console session; a role or scope change holds from the account's next request. An admin cannot disable or demote themself (EINVALID)", tag: "admin", request: "UserUpdate", response: "User"},
		{method: "GET", path: "/v1/admin/devices", auth: authAdmin, handler: s.handleListDevices, summary: "List enrolled devices", tag: "admin", response: "DeviceList"},
		{method: "POST", path: "/v1/admin/devices/:id/revoke", auth: authAdmin, handler: s.handleRevokeDevice, summary: "Revoke a lost tablet: its next sync fails with EREVOKED and it wipes its data", tag: "admin", response: "Revoked"},
		{method: "GET", path: "/v1/reports/compliance", auth: authUser, handler: s.handleComplianceReport, summary: "Compliance roll-up of the field rules (county → township → village) with the lists behind the counts, as JSON, one CSV list or an XLSX workbook with Chinese headers (township, county, auditor, admin; the area must be within the caller's scope)", tag: "reports", response: "ComplianceReport",
			query: map[string]string{"area": "area-code prefix, 2 to 12 digits (required)", "period": "2026, 2026H2, 2026Q3 or 2026-11 (required)", "format": "json (default), csv or xlsx", "list": "for csv: summary (default) or a finding kind"}},
		{method: "GET", path: "/v1/findings", auth: authUser, handler: s.handleFindings, summary: "Doubtful photo evidence under an area: the same or a near-duplicate photo cited for two households, EXIF time or GPS that disagrees with the citing record, an after photo earlier than a before photo, before and after photos far apart; titles and details in zh-CN (township, county, auditor, admin; the area must be within the caller's scope)", tag: "evidence", response: "FindingList",
			query: map[string]string{"area": "area-code prefix, 2 to 12 digits (required)"}},
		{method: "GET", path: "/v1/signatures", auth: authUser, handler: s.handleListSignatures, summary: "The signatures of a record, each with signature_status valid, stale (the record changed after signing) or invalid (the enrolled device's signature does not verify)", tag: "evidence", response: "SignatureList",
			query: map[string]string{"record": "<collection>/<id> of the signed record (required)"}},
		{method: "GET", path: "/v1/housing_cases/:id/evidence", auth: authUser, handler: s.handleHousingEvidence, summary: "Whether a housing case's evidence is complete: before and after photos uploaded, the after one later and near the before one, and a valid acceptance signature by the household head; missing lists the gaps in zh-CN", tag: "evidence", response: "HousingEvidence"},
		{method: "POST", path: "/v1/import/households", auth: authUser, handler: s.handleImportHouseholds, summary: "Import a household register (body: the XLSX file, Content-Type " + MIMEXLSX + "); answers {imported, unchanged, problems:[{row, column, code, reason}]}; re-importing the same rows changes nothing (township, county, admin; villages within scope)", tag: "import", response: "HouseholdImport", body: MIMEXLSX},
	}
	if s.uploads != nil {
		u := s.uploads
		routes = append(routes,
			route{method: "OPTIONS", path: uploads.PathPrefix, auth: authNone, handler: u.HandleOptions, summary: "tus 1.0 discovery: Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm", tag: "uploads", status: 204},
			route{method: "POST", path: uploads.PathPrefix, auth: authUser, handler: u.HandleCreate, summary: "tus creation (and creation-with-upload): Upload-Length, Upload-Metadata with sha256, kind, collection, record_id, area; a known verified blob completes at once. The Location header of the 201 is the upload's URL", tag: "uploads", status: 201,
				headers: map[string]string{
					"Tus-Resumable":   "1.0.0",
					"Upload-Length":   "the file's size in bytes (1 up to the server's limit; Upload-Defer-Length is not supported)",
					"Upload-Metadata": uploadMetadataHeaderDoc,
				}},
			route{method: "PATCH", path: uploads.PathPrefix + "/:id", auth: authUser, handler: u.HandlePatch, summary: "tus core: append application/offset+octet-stream at Upload-Offset (409 on mismatch), optional Upload-Checksum sha256 (460 on mismatch); HEAD on the same URL returns Upload-Offset and Upload-Length", tag: "uploads", status: 204,
				headers: map[string]string{
					"Tus-Resumable":   "1.0.0",
					"Upload-Offset":   "bytes the server already holds (from HEAD or the previous PATCH); 409 when it differs",
					"Upload-Checksum": "optional: \"sha256 \" followed by the base64 sha256 of this request's body; 460 when it does not match",
					"Content-Type":    "application/offset+octet-stream",
				}, body: "application/offset+octet-stream"},
			route{method: "DELETE", path: uploads.PathPrefix + "/:id", auth: authUser, handler: u.HandleDelete, summary: "tus termination: discard an upload", tag: "uploads", status: 204,
				headers: map[string]string{"Tus-Resumable": "1.0.0"}},
			route{method: "GET", path: "/v1/blobs/:sha", auth: authUser, handler: u.HandleBlob, summary: "A blob's bytes (?size=original|preview|thumb), ETag = sha256; visible when a record it was uploaded for is in scope", tag: "uploads",
				query: map[string]string{"size": "original (default), preview (≈1280 px) or thumb (≈256 px)"}},
			route{method: "GET", path: "/v1/blobs/:sha/info", auth: authUser, handler: u.HandleBlobInfo, summary: "A blob's facts: status, type, size, EXIF time and GPS, perceptual hash, records", tag: "uploads", response: "BlobInfo"},
		)
	}
	return routes
}

// healthView is the answer of GET /healthz.
type healthView struct {
	Status string `json:"status"`
	Epoch  string `json:"epoch"`
	Seq    uint64 `json:"seq"`
	Store  string `json:"store"`
	Schema int    `json:"schema"`
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	seq, err := s.core.LastSeq(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(healthView{Status: "ok", Epoch: s.core.Epoch(), Seq: seq, Store: s.store.Kind(), Schema: s.store.SchemaVersion()})
}
