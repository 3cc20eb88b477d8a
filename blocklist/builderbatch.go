package blocklist

// addBatch is the Builder's insertion path: tree.add for a run of rules,
// interleaved level by level. Inserting a large list is bound by cache
// misses in the node index (one random slot per label, and the node it
// names), and one name's labels depend on each other; the names of a batch
// do not, so each level first touches every name's slot and node, letting
// the CPU wait for those misses together, and then does the real lookups,
// which find them in cache. Nodes are created level by level rather than
// name by name, which changes only their ids; rules are put in the order
// they were added, which is what breaks ties.
func (t *tree) addBatch(batch []pendingRule) {
	var (
		w   [addBatchLen]packedLabel
		n   [addBatchLen]int
		st  [addBatchLen]int
		end [addBatchLen]int
		cur [addBatchLen]uint32
		at  [addBatchLen]int
	)
	batch = batch[:min(len(batch), addBatchLen)]
	if len(t.idx.slots) == 0 { // dropped by compile: the builder is used again
		t.reserve(len(t.parent))
	}
	for j := range batch {
		end[j] = len(batch[j].name)
	}
	for more := true; more; {
		more = false
		mask := len(t.idx.slots) - 1
		var sink uint32
		for j := range batch {
			if end[j] <= 0 {
				continue
			}
			st[j], n[j], _ = nextLabel(batch[j].name, end[j], &w[j]) // canonical: always a label
			at[j] = int(t.idx.hash(cur[j], n[j], &w[j])) & mask
		}
		// A loop of loads alone, so that all of them fit in the CPU's
		// window at once.
		for j := range batch {
			sink += t.idx.slots[at[j]]
		}
		for j := range batch {
			if end[j] > 0 {
				if id := t.idx.slots[at[j]]; id != 0 {
					sink += t.parent[id] + t.labelAt[id/labelStride] + uint32(t.n[id])
				}
			}
		}
		for j := range batch {
			if end[j] <= 0 {
				continue
			}
			cur[j] = t.childOf(cur[j], n[j], &w[j])
			end[j] = st[j] - 1
			more = more || end[j] > 0
		}
		t.touched += sink // keeps the touches from being optimised away
	}
	for j, r := range batch {
		t.put(cur[j], r.v, r.v.scope != Below, r.v.scope != Exact)
	}
}

// addBatchLen is how many names addBatch interleaves: enough misses in
// flight to fill the CPU's miss queue, few enough for its state to stay
// on the stack.
const addBatchLen = 32

// pendingRule is a rule the Builder has validated but not yet inserted.
type pendingRule struct {
	name string // canonical
	v    ruleVal
}
