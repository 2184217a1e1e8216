"""File-request fields of the transcribe message (mode, temperature, progress) and the progress frame."""
import pytest

import protocol

AUDIO = b"\x00\x01" * 1600


def _message(**fields):
    return {"id": 7, "type": "transcribe", "items": [{"audio": AUDIO}], **fields}


def test_stream_windows_send_no_mode_and_stay_on_the_pipeline_path():
    request = protocol.parse_transcribe(_message())
    assert (request.mode, request.progress, request.temperature) == (None, False, 0.0)


@pytest.mark.parametrize("mode", ["pipeline", "sequential", "vad"])
def test_file_modes_parse(mode):
    request = protocol.parse_transcribe(_message(mode=mode, progress=True, temperature=0.4))
    assert (request.mode, request.progress, request.temperature) == (mode, True, 0.4)


@pytest.mark.parametrize("fields", [{"mode": "chunky"}, {"temperature": 2}, {"temperature": "hot"}, {"temperature": True}])
def test_bad_file_fields_are_bad_requests_by_id(fields):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.parse_transcribe(_message(**fields))
    assert (err.value.code, err.value.request_id) == ("bad_request", 7)


def test_progress_frame_puts_id_first():
    frame = protocol.progress(7, 20.0004, 64.46, " And so")
    assert list(frame)[0] == "id"
    assert frame == {"id": 7, "type": "progress", "done_s": 20.0, "total_s": 64.46, "text": " And so"}
