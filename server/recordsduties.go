package server

import (
	"fmt"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
)

// dutyCollections are the collections readDuties reads: the work teams'
// "four ones" duties [003] and the family-doctor contracts and visits
// [000].
var dutyCollections = []string{collection.TeamDuties, collection.DoctorContracts, collection.DoctorVisits}

// readDuties reads the "four ones" duties and the family-doctor contracts
// and visits under area into the input (those of dutyCollections that
// r.only names, or all when it is nil). The store's report projection does
// not keep these collections, so they are read through the generic record
// scan (Tx.ScanRecordsIn), deleted records left out. How stored facts
// become rule facts:
//
//   - A team duty counts from the start of its date, China time, for the
//     village of the team its team_id names (the area of that teams
//     record), or, when no such team is stored, for the duty's own area.
//   - A doctor contract runs from start_date to end_date (open while
//     end_date is absent); a doctor visit counts from the start of its date.
//
// A record whose date cannot be read, or a duty of a kind the rules do not
// know, is left out, since the schemas refuse such records at the door.
func (r *inputReader) readDuties(area string) error {
	steps := []struct {
		collection string
		fields     []string
		read       func(id, area string, f []core.FieldView) error
	}{
		{collection.TeamDuties, []string{"team_id", "kind", "date"}, r.teamDuty},
		{collection.DoctorContracts, []string{"household_id", "doctor", "package", "start_date", "end_date"}, r.doctorContract},
		{collection.DoctorVisits, []string{"household_id", "doctor", "date"}, r.doctorVisit},
	}
	for _, s := range steps {
		if r.only != nil && !r.only[s.collection] {
			continue
		}
		if err := r.tx.ScanRecordsIn(s.collection, area, s.fields, s.read); err != nil {
			return fmt.Errorf("read %s: %w", s.collection, err)
		}
	}
	return nil
}

func (r *inputReader) teamDuty(id, area string, f []core.FieldView) error {
	kind := rules.DutyKind(jsonString(f[1].Value))
	known := false
	for _, k := range rules.DutyKinds() {
		known = known || k == kind
	}
	date, err := rules.ParseDate(jsonString(f[2].Value))
	if !known || err != nil {
		return nil
	}
	village := area
	if team := jsonString(f[0].Value); team != "" {
		teamArea, ok, err := r.tx.RecordArea(collection.Teams, team)
		if err != nil {
			return fmt.Errorf("team %s of duty %s: %w", team, id, err)
		}
		if ok {
			village = teamArea
		}
	}
	r.in.TeamDuties = append(r.in.TeamDuties, rules.TeamDuty{ID: id, VillageCode: village, Kind: kind, At: date.Start()})
	return nil
}

func (r *inputReader) doctorContract(_, _ string, f []core.FieldView) error {
	from, err := rules.ParseDate(jsonString(f[3].Value))
	if err != nil {
		return nil
	}
	c := rules.DoctorContract{HouseholdID: r.str(f[0].Value), Doctor: r.str(f[1].Value), Package: r.str(f[2].Value), From: from}
	if end := jsonString(f[4].Value); end != "" {
		if c.To, err = rules.ParseDate(end); err != nil {
			return nil
		}
	}
	r.in.DoctorContracts = append(r.in.DoctorContracts, c)
	return nil
}

func (r *inputReader) doctorVisit(id, _ string, f []core.FieldView) error {
	date, err := rules.ParseDate(jsonString(f[2].Value))
	if err != nil {
		return nil
	}
	r.in.DoctorVisits = append(r.in.DoctorVisits, rules.DoctorVisit{ID: id, HouseholdID: r.str(f[0].Value), Doctor: r.str(f[1].Value), At: date.Start()})
	return nil
}
