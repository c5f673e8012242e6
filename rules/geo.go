package rules

import "math"

// EarthRadiusM is the mean Earth radius used for distances, in metres.
const EarthRadiusM = 6371008.8

// DistanceM returns the great-circle (haversine) distance in metres between
// two WGS-84 points given in degrees.
func DistanceM(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dLat := (lat2 - lat1) * rad
	dLon := (lon2 - lon1) * rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * EarthRadiusM * math.Asin(math.Min(1, math.Sqrt(a)))
}
