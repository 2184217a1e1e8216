"""Stream-window items: the per-item max_new_tokens cap is validated and reaches generate_kwargs."""
import numpy as np
import pytest

import model
import protocol


def _message(**item):
    return {"id": 7, "type": "transcribe", "items": [{"audio": np.zeros(1600, "<i2").tobytes(), **item}]}


def test_cap_is_parsed_and_passed_to_generate():
    request = protocol.parse_transcribe(_message(language="en", max_new_tokens=24))
    item = request.items[0]
    assert item.max_new_tokens == 24
    assert model._generate_kwargs(item, None) == {"language": "en", "max_new_tokens": 24}


def test_no_cap_leaves_the_pipeline_default():
    item = protocol.parse_transcribe(_message()).items[0]
    assert item.max_new_tokens is None
    assert "max_new_tokens" not in model._generate_kwargs(item, None)


@pytest.mark.parametrize("bad", [0, 445, -1, 2.5, "10", True])
def test_bad_caps_are_rejected_by_id(bad):
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.parse_transcribe(_message(max_new_tokens=bad))
    assert info.value.code == "bad_request"
    assert info.value.request_id == 7
