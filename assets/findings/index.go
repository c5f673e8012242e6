package findings

import "math/bits"

// Index finds perceptual hashes within a fixed Hamming radius without
// comparing every pair. It uses multi-index hashing: the 64 bits are cut
// into radius+1 disjoint blocks, and by the pigeonhole principle two hashes
// at most radius bits apart agree exactly on at least one block. Each block
// keeps a map from its value to the entries holding it, so a query looks at
// radius+1 buckets and verifies only their members. For n well-spread hashes
// that is about n·(radius+1)/2^(64/(radius+1)) candidates per query instead
// of n (for radius 6: blocks of 9–10 bits, n/100 instead of n).
type Index struct {
	radius  int
	blocks  []blockMask
	tables  []map[uint64][]int32 // per block: block value -> positions in entries
	entries []entry
}

type entry struct {
	id   int
	hash uint64
}

type blockMask struct {
	shift uint
	mask  uint64
}

// NewIndex returns an empty index answering queries within radius bits
// (0 to 63; values outside are clamped).
func NewIndex(radius int) *Index {
	radius = max(0, min(63, radius))
	n := radius + 1
	idx := &Index{radius: radius}
	start := 0
	for i := range n {
		width := 64 / n
		if i < 64%n {
			width++
		}
		idx.blocks = append(idx.blocks, blockMask{shift: uint(start), mask: 1<<uint(width) - 1})
		idx.tables = append(idx.tables, map[uint64][]int32{})
		start += width
	}
	return idx
}

// Add records hash under id. Ids are the caller's (a slice index, a record
// number); adding an id twice makes Near report it twice.
func (x *Index) Add(id int, hash uint64) {
	pos := int32(len(x.entries))
	x.entries = append(x.entries, entry{id, hash})
	for i, b := range x.blocks {
		key := hash >> b.shift & b.mask
		x.tables[i][key] = append(x.tables[i][key], pos)
	}
}

// Near returns the ids whose hash is within the radius of hash, each once.
func (x *Index) Near(hash uint64) []int {
	var out []int
	for i, b := range x.blocks {
		for _, pos := range x.tables[i][hash>>b.shift&b.mask] {
			e := x.entries[pos]
			diff := hash ^ e.hash
			if hamming(hash, e.hash) > x.radius || x.foundEarlier(diff, i) {
				continue
			}
			out = append(out, e.id)
		}
	}
	return out
}

// foundEarlier reports whether an entry differing by diff also matches a
// block before block i exactly, in which case that block already reported it.
func (x *Index) foundEarlier(diff uint64, i int) bool {
	for _, b := range x.blocks[:i] {
		if diff>>b.shift&b.mask == 0 {
			return true
		}
	}
	return false
}

func hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }
