// Package chinatime is the one home of China Standard Time, the zone of
// every local date, period, visit time and photo time in ruhu: UTC+08:00
// with no daylight saving time. Asia/Shanghai has had no daylight saving
// since 1991, so a fixed zone equals it for every date ruhu handles, and
// neither servers nor tablets need tzdata.
package chinatime

import "time"

// Offset is China Standard Time's offset from UTC in seconds.
const Offset = 8 * 60 * 60

// zone is never modified after package initialisation.
var zone = time.FixedZone("CST", Offset)

// Zone returns China Standard Time.
func Zone() *time.Location { return zone }
