package console

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// Backend is everything the console asks of the server: the application
// core's use cases and the server's read models, already checked against
// the caller's role and scope exactly as the API checks them. The console
// never decides who may see what: a page that hides a button still asks
// the backend, which refuses.
//
// Errors carry syncengine codes: ENOTFOUND for something absent or outside
// the caller's scope (the same answer), EFORBIDDEN for a role that may not
// do it, EINVALID for bad input, EUNAUTHORIZED for a failed login or a
// disabled account. Any other error is an internal failure the backend has
// logged.
type Backend interface {
	// Login checks a password as the API's login does (argon2id, the same
	// failure answer and cost for unknown users).
	Login(ctx context.Context, username, password string) (User, error)
	// User returns the current state of an account; EUNAUTHORIZED when it
	// is gone or disabled (its sessions end at once).
	User(ctx context.Context, username string) (User, error)

	// SaveSession, Session and DeleteSession keep browser sessions
	// durably; Session returns nil for an unknown key.
	SaveSession(ctx context.Context, s Session) error
	Session(ctx context.Context, key string) (*Session, error)
	DeleteSession(ctx context.Context, key string) error

	// Overview is the compliance roll-up of area for period with the
	// counts of open conflicts and photo findings under it.
	Overview(ctx context.Context, u User, area string, period rules.Period) (*Overview, error)
	// Report writes the compliance report of area for period as "xlsx" or
	// as one "csv" list and returns the file name to offer.
	Report(ctx context.Context, u User, area string, period rules.Period, format, list string, w io.Writer) (string, error)
	// ExportReport is Report for a download: the file is recorded in the
	// audit log (who, what, its sha256) before any byte reaches w.
	ExportReport(ctx context.Context, u User, area string, period rules.Period, format, list string, w io.Writer) (string, error)
	// AuditTrail is one page of the audit entries concerning area, newest
	// first (those below sequence before; 0: from the newest), with the
	// state of the whole chain. Auditors, county staff and admins, within
	// their scopes (EFORBIDDEN otherwise).
	AuditTrail(ctx context.Context, u User, area string, before uint64) (*AuditPage, error)
	// RecordExport records a download the console makes of personal data
	// (what, area, format, file name and the very bytes) in the audit
	// log; the console hands the file over only when it returns nil.
	RecordExport(ctx context.Context, u User, what, area, format, file string, body []byte) error
	// Households lists the households the caller may see that match q.
	Households(ctx context.Context, u User, q HouseholdQuery) (*HouseholdPage, error)
	// Household is the one-household file (一户一档).
	Household(ctx context.Context, u User, id string) (*HouseholdFile, error)
	// Conflicts lists conflicts in scope ("open", "resolved" or "all").
	Conflicts(ctx context.Context, u User, status, area string) ([]Conflict, error)
	// Resolve confirms the winner (empty value) or applies another value.
	Resolve(ctx context.Context, u User, id string, value json.RawMessage, note string) error
	// PhotoFindings lists the doubtful photo evidence under area.
	PhotoFindings(ctx context.Context, u User, area string) ([]PhotoFinding, error)
	// Photo opens a blob's bytes ("thumb", "preview" or "original") if the
	// caller may see it, with its content type.
	Photo(ctx context.Context, u User, sha, size string) (io.ReadCloser, string, error)

	// Residency is each work-team member's month in the villages under
	// area: the days counted and the check-ins not counted with why.
	Residency(ctx context.Context, u User, area string, month rules.Period) ([]MemberMonth, error)

	// UploadToken issues a short-lived API access token for the browser's
	// tus client (no device), for roles that may write photos, and
	// returns the area of the household the photos are for (ENOTFOUND
	// when it is unknown or outside the caller's scope).
	UploadToken(ctx context.Context, u User, householdID string) (token, area string, err error)
	// AddPhoto creates the photos record of an uploaded blob through the
	// core's push, as a tablet would; the record id derives from the blob
	// and the household, so a repeat creates nothing new. It returns the
	// record id.
	AddPhoto(ctx context.Context, u User, in NewPhoto) (string, error)

	// Accounts and Devices list every user and enrolled device (admin
	// only, EFORBIDDEN otherwise).
	Accounts(ctx context.Context, u User) ([]Account, error)
	Devices(ctx context.Context, u User) ([]Device, error)
	// AddUser creates an account (admin only); ECONFLICT when the name
	// is taken, EINVALID for a bad role, scope or password.
	AddUser(ctx context.Context, u User, in NewUser) error
	// UpdateUser sets another account's role, scopes and disabled flag
	// (admin only, audited); EINVALID for a bad role or scope or an admin
	// disabling or demoting themself, ENOTFOUND for no such user.
	UpdateUser(ctx context.Context, u User, username string, ch UserChange) error
	// RevokeDevice ends a tablet's tokens at once (admin only).
	RevokeDevice(ctx context.Context, u User, id string) error
	// ImportHouseholds loads a household register workbook within the
	// caller's scope, as the API's import does.
	ImportHouseholds(ctx context.Context, u User, xlsx io.Reader) (*ImportResult, error)

	// ProcedureBackend serves the exit and ledger pages (procedures.go).
	ProcedureBackend
}

// Account is one user as the admin page lists it (never the hash).
type Account struct {
	Username, DisplayName, Role string
	Scopes                      []string
	Disabled                    bool
	CreatedAt                   time.Time
}

// Device is one enrolled tablet; RevokedAt is nil while it may sync.
type Device struct {
	ID, Username, Name string
	EnrolledAt         time.Time
	RevokedAt          *time.Time
}

// NewUser is the admin page's add-user form.
type NewUser struct {
	Username, Password, Role, DisplayName string
	Scopes                                []string
}

// UserChange is a row's form of the admin page's user list: the
// account's role, scopes and disabled flag as they are to be.
type UserChange struct {
	Role     string
	Scopes   []string
	Disabled bool
}

// ImportResult is what a register import did: rows written, rows already
// identical, and the rows refused with why (identity numbers masked).
type ImportResult struct {
	Imported, Unchanged int
	Problems            []ImportProblem
}

// ImportProblem is one refused cell or row of the workbook.
type ImportProblem struct {
	Row                  int
	Column, Code, Reason string
}

// User is a signed-in account as the console shows it.
type User struct {
	Username    string
	DisplayName string
	Role        string
	Scopes      []string
}

// Session is one signed-in browser. Key is the sha256 of the random
// cookie token; the token itself is never stored.
type Session struct {
	Key       string
	Username  string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Overview is what the home page shows.
type Overview struct {
	Report *reports.Report
	// OpenConflicts and PhotoFindings count what waits for a decision
	// under the report's area.
	OpenConflicts int
	PhotoFindings int
	// ReportAt is when Report was made; Refreshing says the store changed
	// since and a newer report is being made (the next view shows it).
	ReportAt   time.Time
	Refreshing bool
}

// HouseholdQuery filters the households list. Zero values mean "all".
type HouseholdQuery struct {
	// Area is an area-code prefix within the caller's scope.
	Area string
	// Text matches the head's name, the address or the household id.
	Text string
	// Status is a household status value (exited, monitored...).
	Status string
	// Due is "overdue" or "due_soon" to keep only those.
	Due string
	// Page counts from 1; PageSize rows each.
	Page, PageSize int
}

// HouseholdPage is one page of the households list.
type HouseholdPage struct {
	Rows  []HouseholdRow
	Total int
}

// HouseholdRow is one household in the list.
type HouseholdRow struct {
	ID          string
	Area        string
	VillageName string
	HeadName    string
	Status      string // label, zh-CN
	Address     string
	LastVisit   time.Time
	// Due is "overdue", "due_soon" or "".
	Due string
	// EvidenceComplete is false when a photo the household's records cite
	// has not reached the server.
	EvidenceComplete bool
}

// HouseholdFile is the one-household file.
type HouseholdFile struct {
	ID          string
	Area        string
	VillageName string
	Deleted     bool
	Fields      []FieldValue
	History     []HistoryEntry
	Members     []Member
	Visits      []Visit
	Photos      []Photo
	Signatures  []Signature
	Cases       []HousingCase
	Findings    []PhotoFinding
	Conflicts   []Conflict
}

// FieldValue is one field of a record with who set it and when.
type FieldValue struct {
	Name   string
	Value  json.RawMessage
	Author string
	Device string
	At     time.Time
	Flags  []string
}

// HistoryEntry is one accepted op of the record.
type HistoryEntry struct {
	OpID     string
	Author   string
	Device   string
	At       time.Time
	Received time.Time
	Changes  []FieldChange
	Deleted  bool
	Flags    []string
}

// FieldChange is one field an op set.
type FieldChange struct {
	Name  string
	Value json.RawMessage
}

// Member is a household member; IDNumber is masked.
type Member struct {
	Name, Relation, IDNumber string
}

// Visit is one visit to the household.
type Visit struct {
	ID         string
	At         time.Time
	Officer    string
	AnsweredBy string
	Notes      string
	Checklist  []ChecklistItem
	PhotoSHAs  []string
}

// ChecklistItem is one line of the 两不愁三保障 checklist.
type ChecklistItem struct {
	Item, Answer string
	Problem      bool
}

// Photo is one photo of the household's evidence.
type Photo struct {
	SHA256     string
	Stage      string // before, during, after or ""
	CaseID     string
	CapturedAt time.Time
	Record     string // <collection>/<id> citing it
	// Arrived is true once the blob is verified on the server; HasThumb
	// and HasPreview once it was processed.
	Arrived, HasThumb, HasPreview bool
}

// Signature is one signature on the household or its records.
type Signature struct {
	ID         string
	SignerName string
	SignerRole string
	Purpose    string
	Signed     string // <collection>/<id>
	SignedAt   string
	// Status is valid, stale or invalid; StatusTitle its zh-CN label.
	Status, StatusTitle string
}

// HousingCase is a renovation case of the household.
type HousingCase struct {
	ID, Grade, BuildMode string
	Complete             bool
	Missing              []string
}

// PhotoFinding is one finding of doubtful photo evidence.
type PhotoFinding struct {
	Kind, Title, Detail string
	HouseholdIDs        []string
	Photos              []FindingPhoto
	// Measure is the figure behind the finding (bits, seconds, metres),
	// already worded.
	Measure string
}

// FindingPhoto is a photo a finding cites.
type FindingPhoto struct {
	Record, SHA256 string
}

// Conflict is one conflict record.
type Conflict struct {
	ID, Collection, RecordID, Area, Field string
	Status                                string
	OpenedAt                              time.Time
	Candidates                            []Candidate
	Resolution                            *Resolution
}

// Candidate is one competing value; the first is the merge winner.
type Candidate struct {
	Value  json.RawMessage
	Author string
	Device string
	At     time.Time
	Winner bool
}

// Resolution is a supervisor's decision.
type Resolution struct {
	By    string
	At    time.Time
	Value json.RawMessage
	Note  string
}

// MemberMonth is one team member's residency month in one village.
type MemberMonth struct {
	Member, Village, VillageName string
	// Required is the policy's days per month; Days the distinct local
	// dates counted (a check-in day and a duty day on the same date count
	// once), CheckinDays and DutyDays each kind.
	Required, Days, CheckinDays, DutyDays int
	// Dates holds one entry per day of the month, the 1st first.
	Dates []ResidencyDate
	// NotCounted lists the month's check-ins that did not count.
	NotCounted []UncountedCheckin
}

// ResidencyDate is one day of a member's month.
type ResidencyDate struct {
	Checkin  bool   // a counted check-in that day
	DutyKind string // an approved, counted duty day of this kind
	// Uncounted is the number of that day's check-ins that did not count.
	Uncounted int
}

// UncountedCheckin is a check-in that did not count, with the reason in
// zh-CN and the figures behind it.
type UncountedCheckin struct {
	ID     string
	At     time.Time
	Reason string
}

// NewPhoto is one photo uploaded from the console.
type NewPhoto struct {
	HouseholdID, CaseID, Stage, SHA256 string
	CapturedAt                         time.Time
}
