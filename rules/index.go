package rules

// index holds what several rules look up: households by id and the
// household of every visit. Built once per run with one map lookup per
// visit; rules then walk the visits in input order (sequential memory)
// instead of sorting them.
type index struct {
	household map[string]int32 // id → position in Input.Households
	// visitHousehold is the household position of each visit, -1 when the
	// household is unknown.
	visitHousehold []int32
}

func newIndex(in *Input) *index {
	ix := &index{
		household:      make(map[string]int32, len(in.Households)),
		visitHousehold: make([]int32, len(in.Visits)),
	}
	for i := range in.Households {
		ix.household[in.Households[i].ID] = int32(i)
	}
	for i := range in.Visits {
		h, ok := ix.household[in.Visits[i].HouseholdID]
		if !ok {
			h = -1
		}
		ix.visitHousehold[i] = h
	}
	return ix
}

// householdOf returns the household with the given id, or nil.
func (ix *index) householdOf(in *Input, id string) *Household {
	h, ok := ix.household[id]
	if !ok {
		return nil
	}
	return &in.Households[h]
}
