package schemas_test

import (
	"encoding/json"
	"testing"
)

// visitPatch is a typical create-visit op as a tablet sends it (~850 bytes
// of JSON): every field an officer fills in, three photos, one signature.
const visitPatch = `{
"household_id":"01JC8Z6Q4W3X5M2N7P9R0S1T2V",
"officer":"wang.lei",
"visited_at":"2025-11-03T09:41:00+08:00",
"gps":{"lat":31.678213,"lon":115.903477,"accuracy_m":8.5},
"checklist":{"food":"ok","clothing":"ok","education":"na","medical":"problem","housing":"ok","drinking_water":"ok"},
"notes":"户主反映医保报销比例偏低，已联系乡卫生院核实；儿子在合肥务工，月收入约四千元。下次走访带上医保政策明白卡。",
"answered_by_member_id":"01JC8Z7A1B2C3D4E5F6G7H8J9K",
"answered_by_name":"张桂英",
"answered_by_relation":"head",
"photo_sha256s":["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752","fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"],
"signature_ids":["01JC8Z9S1G2N3A4T5U6R7E8I9D"]
}`

func BenchmarkValidatePatchVisit(b *testing.B) {
	r := newRegistry(b)
	fields := decodeObject(b, visitPatch)
	if n := len(visitPatch); n < 800 || n > 900 {
		b.Fatalf("visit patch is %d bytes, want about 850", n)
	}
	if err := r.ValidatePatch("visits", fields); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(visitPatch)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ValidatePatch("visits", fields); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateRecordVisit(b *testing.B) {
	r := newRegistry(b)
	fields := decodeObject(b, visitPatch)
	b.SetBytes(int64(len(visitPatch)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ValidateRecord("visits", fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidatePatchRefused measures the error path: a tablet with a
// bug can send many bad ops, and refusing must stay cheap too.
func BenchmarkValidatePatchRefused(b *testing.B) {
	r := newRegistry(b)
	fields := decodeObject(b, visitPatch)
	fields["gps"] = json.RawMessage(`{"lat":91,"lon":115.9}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ValidatePatch("visits", fields); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newRegistry(b)
	}
}
