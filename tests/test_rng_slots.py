"""The community engine's draw helpers give exactly the values of the plain streams (sim.rng)."""

import numpy as np

from sim.community import community_step_layout
from sim.rng import Purpose, run_keys, run_seeds, slot_org_index, slot_uniforms, step_uniforms, uniforms, uniforms_at


def test_uniforms_at_is_elementwise_uniforms():
    keys = run_keys(run_seeds(3, 7))
    index = slot_org_index(np.array([0, 3, 1, 7, 2, 0, 5]), np.array([1, 0, 4, 2, 2, 5, 3]))
    got = uniforms_at(keys, 12, Purpose.RECRUIT_ACCEPT, index)
    want = np.array([uniforms(keys[v:v + 1], 12, Purpose.RECRUIT_ACCEPT, index[v:v + 1])[0, 0] for v in range(7)])
    assert got.shape == (7,) and np.array_equal(got, want)
    grid = uniforms_at(keys[:, None], 4, Purpose.RECRUIT, slot_org_index(2, np.arange(5))[None, :])
    assert np.array_equal(grid, uniforms(keys, 4, Purpose.RECRUIT, slot_org_index(2, np.arange(5))))


def test_slot_uniforms_equal_the_whole_batch_at_rows_and_slots():
    keys = run_keys(run_seeds(9, 11))
    layout = community_step_layout(5, 4)
    per_slot = {0: [0, 3, 4, 9], 2: [1, 3], 3: [], 4: [2, 5, 6, 10]}  # slot 1 and 3 have no live row
    rows = np.concatenate([np.array(r, dtype=np.int64) for r in per_slot.values()])
    slots = np.repeat(list(per_slot), [len(r) for r in per_slot.values()])
    ends = np.cumsum([len(r) for r in per_slot.values()])
    bounds = [(p, int(e - len(r)), int(e)) for (p, r), e in zip(per_slot.items(), ends, strict=True) if r]
    whole = step_uniforms(keys, 17, layout)
    got = slot_uniforms(keys, 17, layout, rows, bounds)
    assert len(got) == len(layout)
    for (purpose, idx), g, w in zip(layout, got, whole, strict=True):
        assert g.shape == (len(rows),) + idx.shape[1:], purpose
        assert np.array_equal(g, w[rows, slots]), purpose
