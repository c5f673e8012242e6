package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// FuzzPushDecoderAgrees holds the fast decoder the push path uses to the
// standard library's: for any body, both accept or both refuse, and what
// they accept decodes to the same request.
func FuzzPushDecoderAgrees(f *testing.F) {
	f.Add([]byte(`{"ops":[{"id":"a","rid":"b","col":"visits","area":"340199001001","by":"w","dev":"d","hlc":5,"set":{"notes":"中文\u00e9\\"","gps":{"lat":1.5e2}},"base":{"x":"y"},"dt":1,"st":2,"cs":true}],"device_time":3}`))
	f.Add([]byte(`{"ops":[{"hlc":-1}]}`))
	f.Add([]byte(`{"ops":[{"hlc":1e3}]}`))
	f.Add([]byte(`{"ops":[{"set":{"a":"\ud800"}}]}`))
	f.Add([]byte(`{"ops":[],"extra":1}`))
	f.Add([]byte(`{"ops":[{"id":"a","ID":"b"}]}`))
	f.Add([]byte(`{"ops":null} x`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a, b syncengine.PushRequest
		da := json.NewDecoder(bytes.NewReader(body))
		da.DisallowUnknownFields()
		errA := da.Decode(&a)
		if errA == nil && da.More() {
			errA = errTrailing
		}
		db := gojson.NewDecoder(bytes.NewReader(body))
		db.DisallowUnknownFields()
		errB := db.Decode(&b)
		if errB == nil && db.More() {
			errB = errTrailing
		}
		if (errA == nil) != (errB == nil) {
			t.Fatalf("std err %v, fast err %v for %q", errA, errB, body)
		}
		if errA == nil && !reflect.DeepEqual(normalise(a), normalise(b)) {
			t.Fatalf("decoded differently:\n std %+v\nfast %+v", a, b)
		}
	})
}

var errTrailing = syncengine.Errorf(syncengine.EINVALID, "trailing data")

// normalise compacts raw values so formatting differences do not count.
func normalise(r syncengine.PushRequest) syncengine.PushRequest {
	for i := range r.Ops {
		for k, v := range r.Ops[i].Set {
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				r.Ops[i].Set[k] = buf.Bytes()
			}
		}
	}
	return r
}
