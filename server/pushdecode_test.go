package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// tabletBody is a push body as the SDK writes it (json.Marshal of a
// PushRequest): a new visit, an edit with its bases and a suspect clock.
func tabletBody(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(syncengine.PushRequest{DeviceTime: 1767225600123, Ops: []syncengine.WireOp{
		{ID: "01J0OPA", RecordID: "01J0VISIT", Collection: "visits", Area: "340199001001", Author: "wang", Device: "dev-1", HLC: 1767225600000 << 16,
			Set: map[string]json.RawMessage{
				"household_id": json.RawMessage(`"h-1"`), "notes": json.RawMessage(`"户主在家，精神状态良好；\"引号\"\n第二行"`),
				"gps":       json.RawMessage(`{"lat":31.70512,"lon":117.14021,"accuracy_m":8.5}`),
				"checklist": json.RawMessage(`{"food":"ok","medical":"problem"}`), "photo_sha256s": json.RawMessage(`["ab","cd"]`),
				"visited_at": json.RawMessage(`"2026-01-01T08:00:00Z"`), "count": json.RawMessage(`-1.5e-3`), "flag": json.RawMessage(`true`), "none": json.RawMessage(`null`),
			},
			DeviceTime: 1767225600000, ServerTimeEst: 1767225600100},
		{ID: "01J0OPB", RecordID: "01J0VISIT", Collection: "visits", Area: "340199001001", Author: "wang", Device: "dev-1", HLC: 1,
			Set: map[string]json.RawMessage{"notes": json.RawMessage(`"改"`)}, Base: map[string]string{"notes": "01J0OPA"}, ClockSuspect: true, DeviceTime: -5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stdDecode is the reference: encoding/json, strict as decodeJSONBody.
func stdDecode(body []byte) (syncengine.PushRequest, error) {
	var req syncengine.PushRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errInvalid("trailing data")
	}
	return req, err
}

func TestFastPushDecoder(t *testing.T) {
	body := tabletBody(t)
	scenarios := []struct {
		name string
		body string
		fast bool // read by the fast path, not handed to decodeJSONBody
	}{
		{"as the SDK writes it", string(body), true},
		{"indented", func() string { var b bytes.Buffer; _ = json.Indent(&b, body, "", "  "); return b.String() }(), true},
		{"no ops", `{"ops":[]}`, true},
		{"empty op", `{"ops":[{}]}`, true},
		{"empty set and base", `{"ops":[{"set":{},"base":{}}]}`, true},
		{"largest stamp", `{"ops":[{"hlc":18446744073709551615}]}`, true},
		{"escaped id", `{"ops":[{"id":"a\u0062"}]}`, false},
		{"key in capitals", `{"ops":[{"ID":"a"}]}`, false},
		{"key twice", `{"ops":[{"id":"a","id":"b"}]}`, false},
		{"field twice", `{"ops":[{"set":{"a":1,"a":2}}]}`, false},
		{"tombstone", `{"ops":[{"id":"a","del":{"reason":"x"}}]}`, false},
		{"null set", `{"ops":[{"set":null}]}`, false},
		{"null ops", `{"ops":null}`, false},
		{"stamp too large", `{"ops":[{"hlc":18446744073709551616}]}`, false},
		{"negative stamp", `{"ops":[{"hlc":-1}]}`, false},
		{"stamp with exponent", `{"ops":[{"hlc":1e3}]}`, false},
		{"unknown key", `{"ops":[],"extra":1}`, false},
		{"trailing data", `{"ops":[]} x`, false},
		{"bad raw value", `{"ops":[{"set":{"a":tru}}]}`, false},
		{"control in a value", "{\"ops\":[{\"set\":{\"a\":\"x\ty\"}}]}", false},
		{"invalid UTF-8 in an id", "{\"ops\":[{\"id\":\"\xff\"}]}", false},
		{"deep value", `{"ops":[{"set":{"a":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}]}`, false},
		{"not JSON", `{"ops":[`, false},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var fast syncengine.PushRequest
			d := fastPushDecoder{b: []byte(sc.body)}
			if got := d.request(&fast); got != sc.fast {
				t.Fatalf("fast path took it: %v, want %v", got, sc.fast)
			}
			want, wantErr := stdDecode([]byte(sc.body))
			var got syncengine.PushRequest
			gotErr := decodePushBody([]byte(sc.body), &got)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("decodePushBody: %v, encoding/json: %v", gotErr, wantErr)
			}
			if gotErr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestFastPushDecoderSharesNames: the strings every op repeats are made
// once per body, and raw values are not copied out of it.
func TestFastPushDecoderSharesNames(t *testing.T) {
	body := tabletBody(t)
	var req syncengine.PushRequest
	d := fastPushDecoder{b: body}
	if !d.request(&req) {
		t.Fatal("fast path refused a tablet's body")
	}
	a, b := req.Ops[0], req.Ops[1]
	if unsafe.StringData(a.Device) != unsafe.StringData(b.Device) || unsafe.StringData(a.Area) != unsafe.StringData(b.Area) ||
		unsafe.StringData(a.Collection) != unsafe.StringData(b.Collection) {
		t.Error("collection, device and area are not shared between ops")
	}
	v := req.Ops[0].Set["household_id"]
	if i := bytes.Index(body, []byte(`"h-1"`)); i < 0 || &body[i] != &v[0] {
		t.Error("a raw value was copied out of the body")
	}
	if cap(v) != len(v) {
		t.Errorf("raw value has capacity %d past its %d bytes: appending would write into the body", cap(v), len(v))
	}
}

// FuzzPushBodyDecoder holds the push body decoder to encoding/json: a body
// the fast path reads, encoding/json reads the same; and decodePushBody
// accepts exactly what encoding/json accepts, decoding it the same.
func FuzzPushBodyDecoder(f *testing.F) {
	f.Add(tabletBody(f))
	for _, s := range []string{
		`{"ops":[]}`, `{"ops":[{}]}`, `{"ops":[{"hlc":18446744073709551615,"dt":-9223372036854775808}]}`,
		`{"ops":[{"set":{"a":[1,{"b":"\u00e9\\"}],"c":-0.5E+2}}]}`, `{"ops":[{"cs":false,"base":{"x":"y"}}],"device_time":3}`,
		`{"ops":[{"id":"a","ID":"b"}]}`, `{"ops":[{"del":{"reason":"x"}}]}`, `{"ops":null} x`, `{"ops":[{"hlc":01}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantErr := stdDecode(body)
		var fast syncengine.PushRequest
		d := fastPushDecoder{b: body}
		if d.request(&fast) {
			if wantErr != nil {
				t.Fatalf("fast path read %q, encoding/json refuses it: %v", body, wantErr)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("fast path decoded %q as\n%+v\nencoding/json as\n%+v", body, fast, want)
			}
		}
		var got syncengine.PushRequest
		gotErr := decodePushBody(body, &got)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decodePushBody(%q): %v, encoding/json: %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Fatalf("decodePushBody decoded %q as\n%+v\nencoding/json as\n%+v", body, got, want)
		}
	})
}

// BenchmarkDecodePushBody decodes a 1,000-op body of visits as the SDK
// writes it, through the push path's decoder and through the general one.
func BenchmarkDecodePushBody(b *testing.B) {
	one := tabletBody(b)
	var req syncengine.PushRequest
	if err := json.Unmarshal(one, &req); err != nil {
		b.Fatal(err)
	}
	ops := make([]syncengine.WireOp, 0, syncengine.MaxPushOps)
	for i := 0; len(ops) < syncengine.MaxPushOps; i++ {
		op := req.Ops[0]
		op.ID, op.RecordID = fmt.Sprintf("01J0OP%06d", i), fmt.Sprintf("01J0VISIT%06d", i)
		ops = append(ops, op)
	}
	body, err := json.Marshal(syncengine.PushRequest{Ops: ops})
	if err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name   string
		decode func([]byte, *syncengine.PushRequest) error
	}{
		{"push", decodePushBody},
		{"general", func(body []byte, req *syncengine.PushRequest) error { return decodeJSONBody(body, req) }},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var req syncengine.PushRequest
				if err := bench.decode(body, &req); err != nil || len(req.Ops) != syncengine.MaxPushOps {
					b.Fatal(err, len(req.Ops))
				}
			}
		})
	}
}
