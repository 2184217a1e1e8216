"""Speaker diarization with the default (Resemblyzer) backend on conversations built from real
recordings (tests/conversations.py): speakers found and labelled consistently, one speaker never
split, no speech → no speakers; the request field; the encoder's weights and input."""
import numpy as np
import pytest

import clustering
import conversations
import diarize
import protocol
from der import der

pytestmark = pytest.mark.skipif(diarize.choose().backend != "resemblyzer", reason="Resemblyzer is not installed")


@pytest.fixture(scope="module")
def vad():
    from vad import Vad

    return Vad()


@pytest.fixture(scope="module")
def diarizer(vad):
    return diarize.Diarizer(vad)


def _hypothesis(turns):
    return [(t.start, t.end, t.speaker) for t in turns]


def test_the_default_backend_is_offline_and_says_why():
    choice = diarize.choose({})
    assert choice.backend == "resemblyzer" and "offline" in choice.reason
    fallback = diarize.choose({"DIARIZATION_MODEL": "/nowhere/pyannote"})
    assert fallback.backend == "resemblyzer" and "pyannote.audio is not installed" in fallback.reason


def test_two_and_three_speakers_are_found_and_labelled_consistently(vad, diarizer):
    # The stereo file mixed to mono (5 s, mostly overlapped) is measured in bench/diarization, not
    # asserted: it is found as one speaker.
    for conv in [c for c in conversations.multi_speaker(vad) if not c.name.startswith("stereo")]:
        turns = diarizer.diarize(conv.audio)
        found = {t.speaker for t in turns}
        score = der(conv.reference, _hypothesis(turns))
        assert len(found) == len(conv.speakers), (conv.name, score)
        # Consistent labels: with the best one-to-one mapping almost no speech is confused.
        assert score["confusion"] <= 0.05 * score["total"], (conv.name, score)
        assert score["der"] < 0.15, (conv.name, score)
        assert [t.speaker for t in turns][0] == 0 and turns == sorted(turns, key=lambda t: t.start)


def test_one_speaker_is_never_split(vad, diarizer):
    for conv in conversations.single_speaker(vad):
        turns = diarizer.diarize(conv.audio)
        assert {t.speaker for t in turns} == {0}, conv.name


@pytest.mark.parametrize("file", conversations.NO_SPEECH)
def test_no_speech_gives_no_speakers(diarizer, file):
    assert diarizer.diarize(conversations.load(file)) == []


def test_a_given_speaker_count_is_honoured(vad, diarizer):
    conv = conversations.multi_speaker(vad)[0]
    assert len({t.speaker for t in diarizer.diarize(conv.audio, num=3)}) == 3
    assert len({t.speaker for t in diarizer.diarize(conv.audio, max_n=1)}) == 1
    single = conversations.load("jfk.wav")
    assert len({t.speaker for t in diarizer.diarize(single, min_n=2)}) == 2


def test_the_wheel_weights_load_strictly_into_the_encoder():
    encoder = diarize.SpeakerEncoder(diarize._resemblyzer_weights())
    mel = encoder.mel(np.zeros(16000, dtype=np.float32))
    # librosa's centred STFT: 1 + n // hop frames, 40 mel bands.
    assert tuple(mel.shape) == (101, 40)
    emb = encoder.embed([encoder.mel(conversations.load("jfk.wav")[:25600])])
    assert emb.shape == (1, 256) and abs(float(np.linalg.norm(emb)) - 1) < 1e-5 and (emb >= 0).all()


def test_clustering_stops_at_the_threshold_and_folds_stray_windows():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    points = np.stack([a + 0.1 * rng.normal(size=64) for _ in range(6)] + [b + 0.1 * rng.normal(size=64) for _ in range(5)]
                      + [rng.normal(size=64)])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    labels = clustering.cluster(points)
    assert list(labels[:11]) == [0] * 6 + [1] * 5 and labels[11] in (0, 1)


def test_diarize_field_is_parsed_and_checked():
    message = {"id": 3, "type": "transcribe", "items": [{"audio": b"\x00\x01" * 800}], "mode": "pipeline"}
    assert protocol.parse_transcribe({**message, "diarize": True}).diarize == {}
    assert protocol.parse_transcribe({**message, "diarize": {"num_speakers": 2}}).diarize == {"num_speakers": 2}
    assert protocol.parse_transcribe(message).diarize is None
    for bad in [{"num_speakers": 0}, {"speakers": 2}, {"min_speakers": 3, "max_speakers": 2}, "yes"]:
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_transcribe({**message, "diarize": bad})
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_transcribe({**{k: v for k, v in message.items() if k != "mode"}, "diarize": True})


def _naive_average_linkage(points, threshold):
    """The textbook O(n^3) loop: merge the two most similar clusters while they are similar enough."""
    n = len(points)
    sim = points @ points.T
    np.fill_diagonal(sim, -np.inf)
    size, members, alive = np.ones(n), [[i] for i in range(n)], np.ones(n, dtype=bool)
    while alive.sum() > 1:
        i, j = divmod(int(np.argmax(sim)), n)
        if sim[i, j] < threshold:
            break
        merged = (sim[i] * size[i] + sim[j] * size[j]) / (size[i] + size[j])
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = sim[j] = sim[:, j] = -np.inf
        size[i] += size[j]
        members[i] += members[j]
        alive[j] = False
    labels = np.zeros(n, dtype=int)
    for k, i in enumerate(np.flatnonzero(alive)):
        labels[members[i]] = k
    return clustering.renumber(labels)


def test_nearest_neighbour_chain_gives_the_textbook_clusters():
    rng = np.random.default_rng(1)
    for _ in range(20):
        centres = rng.normal(size=(int(rng.integers(1, 5)), 32))
        points = np.concatenate([c + rng.normal(scale=rng.uniform(0.3, 1.5), size=(int(rng.integers(2, 30)), 32)) for c in centres])
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        for threshold in (0.3, 0.5, 0.7):
            assert (clustering.agglomerate(points, threshold) == _naive_average_linkage(points, threshold)).all()


def test_embed_message_gives_one_unit_vector_per_item_and_separates_speakers(diarizer):
    def pcm(name, a, b):
        audio = conversations.load(name)[int(a * 16000):int(b * 16000)]
        return {"audio": (audio * 32767).astype("<i2").tobytes()}

    request = protocol.parse_audio_request({"id": 5, "type": "embed", "items": [
        pcm("jfk.wav", 0, 4.3), pcm("jfk.wav", 4.3, 11), pcm("fleurs-en-001.wav", 0, 4.6)]})
    reply = protocol.embed_result(request.id, diarizer.embed(request.items))
    vectors = np.stack([np.frombuffer(i["embedding"], "<f4") for i in reply["items"]])
    assert list(reply)[0] == "id" and vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.75 > vectors[0] @ vectors[2]
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_audio_request({"id": 5, "type": "embed", "items": []})


def test_checkpoints_change_nothing_and_come_between_the_steps(vad, diarizer, monkeypatch):
    """A file_diarize request lets stream windows in at checkpoints (VAD frames, embedding parts):
    the turns are the ones without them, to the bit (parts of 512 windows are 8 of the encoder's
    own batches of 64)."""
    conv = conversations.multi_speaker(vad)[0]
    alone = diarizer.diarize(conv.audio)
    monkeypatch.setattr(diarize, "EMBED_BATCH", 64)  # several parts even for a short conversation
    points = []
    assert diarizer.diarize(conv.audio, checkpoint=lambda: points.append(1)) == alone
    assert len(points) >= len(conv.audio) // (512 * 64) + 1  # every 64 VAD frames, and before each part


def test_file_diarize_is_parsed_with_its_hints():
    req = protocol.parse_file_diarize({"id": 3, "type": "file_diarize", "items": [{"audio": b"\x00\x00" * 10}],
                                       "diarize": {"num_speakers": 2}})
    assert req.id == 3 and req.hints == {"num_speakers": 2} and len(req.audio) == 10
    assert protocol.parse_file_diarize({"id": 4, "type": "file_diarize", "items": [{"audio": b"\x00\x00"}]}).hints == {}
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_file_diarize({"id": 5, "type": "file_diarize", "items": [{"audio": b"\x00\x00"}], "diarize": {"num_speakers": 40}})
    assert protocol.speakers(6, [diarize.Turn(0.0, 1.5, 0)]) == {"id": 6, "type": "speakers", "speakers": [{"start": 0.0, "end": 1.5, "speaker": 0}]}
