// Package schemas describes every ruhu collection with a JSON Schema
// (draft 2020-12) and validates what tablets and the server write, with the
// same code on both sides so an op the tablet accepted is never refused by
// the server for a schema reason (and the other way round).
//
// # Files
//
// Each collection has one file per version, json/<collection>.v<N>.json,
// embedded in the binary; shared building blocks (ids, sha256, dates, GPS,
// 致贫原因 and other enums) live in json/defs/common.v1.json. Field names
// are snake_case; enums are ASCII with their Chinese meaning in the
// description. The area code is not a field: the sync layer carries it.
// New uses the highest version of each collection.
//
// Besides standard keywords a collection file states its policy in an
// "x-ruhu" keyword (see CollectionPolicy): appendOnly, annotations,
// citesBlobs and pii. New refuses a file whose policy names a field the
// schema lacks.
//
// # Validation
//
// ValidatePatch checks one op's fields against each field's own subschema
// of the compiled collection schema: type checks, enums, patterns, formats
// (date and date-time are asserted, so 2025-09-31 is refused) and ranges
// all come from the schema, never from Go code. ValidateRecord validates a
// whole record against the compiled schema, which adds required fields and
// conditional requirements. Cross-field rules that JSON Schema cannot
// express are Go functions listed in rules.go: a household has exactly one
// primary cause and its secondary causes differ from it; an income year
// spans two consecutive years; an assignment does not end before it starts;
// a village's township code prefixes its code.
//
// Every refusal is a *FieldError naming the first offending field in a
// stable order and wrapping a sentinel (ErrUnknownCollection,
// ErrUnknownField, ErrMissingField, ErrInvalidValue). Reasons never repeat
// the offending value, because values may be PII.
//
// # Limits
//
// Every array in the schemas has maxItems and every string a maxLength,
// pattern or format (a test keeps it so). A field's JSON may not exceed
// 1 MiB, nest deeper than 64, or hold a number literal longer than 64 bytes
// or with an exponent beyond ±400: the validator turns bounded numbers into
// big.Rat, where 1e999999 alone costs ~150 ms of CPU.
//
// # Cost
//
// The server validates every pushed op (20,000 ops/s is the target), so New
// prepares the schemas for speed without changing what they accept: shared
// definitions are inlined instead of followed as $refs, patterns of the
// form ^[class]{n}[class]{m,k}$ are matched with a bitset instead of
// package regexp, and field values are decoded in one pass (decodeValue)
// instead of through encoding/json. BenchmarkValidatePatchVisit measures
// an 850-byte visit; differential tests and fuzz targets hold the fast
// paths to encoding/json and regexp.
//
// A Registry is immutable after New and safe for concurrent use; build one
// per process and share it.
package schemas
