package rules

import "sort"

// index holds what several rules look up: households by id and visits
// grouped by household, sorted by time. Built once per run in O(visits).
type index struct {
	household map[string]int32 // id → position in Input.Households
	// visits of household h are visitOrder[visitStart[h]:visitStart[h+1]]
	// (positions in Input.Visits), sorted by At then ID.
	visitStart []int32
	visitOrder []int32
	// visitHousehold is the household position of each visit, -1 when the
	// household is unknown.
	visitHousehold []int32
}

func newIndex(in *Input) *index {
	ix := &index{
		household:      make(map[string]int32, len(in.Households)),
		visitStart:     make([]int32, len(in.Households)+1),
		visitHousehold: make([]int32, len(in.Visits)),
	}
	for i := range in.Households {
		ix.household[in.Households[i].ID] = int32(i)
	}
	for i := range in.Visits {
		h, ok := ix.household[in.Visits[i].HouseholdID]
		if !ok {
			h = -1
		} else {
			ix.visitStart[h+1]++
		}
		ix.visitHousehold[i] = h
	}
	for h := 1; h < len(ix.visitStart); h++ {
		ix.visitStart[h] += ix.visitStart[h-1]
	}
	ix.visitOrder = make([]int32, ix.visitStart[len(ix.visitStart)-1])
	fill := append([]int32(nil), ix.visitStart[:len(in.Households)]...)
	for i, h := range ix.visitHousehold {
		if h >= 0 {
			ix.visitOrder[fill[h]] = int32(i)
			fill[h]++
		}
	}
	for h := range in.Households {
		group := ix.visitOrder[ix.visitStart[h]:ix.visitStart[h+1]]
		if len(group) > 1 {
			sort.Slice(group, func(a, b int) bool {
				va, vb := &in.Visits[group[a]], &in.Visits[group[b]]
				if !va.At.Equal(vb.At) {
					return va.At.Before(vb.At)
				}
				return va.ID < vb.ID
			})
		}
	}
	return ix
}

// visitsOf returns the positions of household h's visits, oldest first.
func (ix *index) visitsOf(h int) []int32 {
	return ix.visitOrder[ix.visitStart[h]:ix.visitStart[h+1]]
}

// householdOf returns the household with the given id, or nil.
func (ix *index) householdOf(in *Input, id string) *Household {
	h, ok := ix.household[id]
	if !ok {
		return nil
	}
	return &in.Households[h]
}
