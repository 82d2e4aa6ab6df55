"""The fast JSON writer writes exactly what json.dumps(sort_keys, indent=4) writes."""

import json

from hypothesis import given, settings, strategies as st

from zstackcli.prettyjson import dumps

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4),
    st.dictionaries(st.integers(), inner, max_size=2)), max_leaves=20)


def reference(value):
    return json.dumps(value, sort_keys=True, indent=4, ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_text_as_json_dumps(value):
    assert dumps(value) == reference(value)


def test_inventory_shapes():
    reply = {"inventory": {"uuid": "d1" * 16, "name": "vm \"1\" \u4e2d\u6587\n", "cpuNum": 1,
                           "vmNics": [{"ip": "10.0.0.2", "deviceId": 0}], "allVolumes": [],
                           "description": None, "nested": {}, "ok": True, "ratio": 0.5}}
    assert dumps(reply) == reference(reply)
    assert dumps((1, [2, (3,)])) == reference((1, [2, (3,)]))
