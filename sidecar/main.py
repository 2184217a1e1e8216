"""Sidecar entry point: stdout is reserved for frames, the model is loaded once, then frames are served.

Exit codes: 0 after shutdown or when stdin closes (the server is gone),
2 on bad configuration, 3 when the model fails to load, 4 when the frame
stream is out of sync, 70 when the device is lost.
"""
from __future__ import annotations

import logging
import os
import sys


def _reserve_stdout():
    """Keep fd 1 for frames only: whatever a library prints (Python or C) goes to stderr."""
    frame_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frame_fd, "wb", buffering=0)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us if the server dies, so no orphan ever holds the GPU."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: stdin EOF still ends us
        pass


def _settings_from_env():
    from model import PipelineSettings

    timestamps_raw = os.environ.get("RETURN_TIMESTAMPS", "true").lower()
    timestamps = {"true": True, "false": False, "word": "word"}.get(timestamps_raw)
    if timestamps is None:
        raise ValueError(f"RETURN_TIMESTAMPS={timestamps_raw!r}: expected true, false or word")
    return PipelineSettings(
        chunk_length_s=float(os.environ.get("CHUNK_LENGTH_S", "30")),
        batch_size=int(os.environ.get("BATCH_SIZE", "16")),
        return_timestamps=timestamps,
        max_new_tokens=int(os.environ.get("MAX_NEW_TOKENS", "128")),
    )


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("1", "true", "0", "false"):
        raise ValueError(f"{name}={raw!r}: expected true or false")
    return raw in ("1", "true")


def _engine_settings_from_env():
    from engine import EngineSettings

    defaults = EngineSettings()
    return EngineSettings(
        audio_ctx=_flag("STREAM_AUDIO_CTX", defaults.audio_ctx),
        audio_ctx_pad_s=float(os.environ.get("STREAM_AUDIO_CTX_PAD_S", defaults.audio_ctx_pad_s)),
        int8=_flag("STREAM_INT8", defaults.int8),
        encoder_bf16=_flag("STREAM_ENCODER_BF16", defaults.encoder_bf16),
    )


def main() -> int:
    frames_out = _reserve_stdout()
    _die_with_parent()
    # The libraries log at INFO and up; SIDECAR_LOG_LEVEL (DEBUG when the server's LOG_LEVEL is
    # debug or trace) is our own loggers' level: DEBUG adds a line per request with its time.
    logging.basicConfig(stream=sys.stderr, level="INFO", format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("sidecar")
    log.setLevel(os.environ.get("SIDECAR_LOG_LEVEL", "INFO"))

    import framing
    import protocol
    from service import FrameWriter, Service

    max_bytes = int(os.environ.get("SIDECAR_MAX_FRAME_BYTES", framing.DEFAULT_MAX_FRAME_BYTES))
    writer = FrameWriter(frames_out, max_bytes)
    model_id = os.environ.get("MODEL_ID", "")
    try:
        settings = _settings_from_env()
        engine_settings = _engine_settings_from_env()
        from device import choose_device
        choice = choose_device(os.environ.get("DEVICE", "auto"))
    except (ValueError, RuntimeError) as exc:
        writer.send(protocol.error(None, "bad_config", str(exc)))
        return 2
    log.info("loading %s on %s (%s)", model_id, choice.device, choice.reason)
    try:
        import model as model_module
        loaded = model_module.load(model_id, choice, settings, os.environ.get("MODEL_REVISION") or None,
                                   engine_settings)
    except Exception as exc:  # noqa: BLE001 - reported, then the supervisor decides
        log.exception("model failed to load")
        writer.send(protocol.error(None, "model_load_failed", f"{type(exc).__name__}: {exc}"[:1000]))
        return 3
    log.info("loaded in %.2fs: %s %s attn=%s", loaded.load_seconds, choice.device, choice.dtype_name,
             choice.attn_implementation)
    try:
        from vad import Vad
        vad = Vad()
        file_vad = Vad()
    except Exception as exc:  # noqa: BLE001 - reported, then the supervisor decides
        log.exception("voice activity model failed to load")
        writer.send(protocol.error(None, "model_load_failed", f"vad: {type(exc).__name__}: {exc}"[:1000]))
        return 3
    import diarize

    diarization = diarize.choose()
    log.info("diarization backend: %s (%s)", diarization.backend, diarization.reason)
    import seq_slices
    import slices

    # The server cuts pipeline-mode files into slices of the pipeline's own chunks (slices.py), and
    # sequential ones into a few windows each where this machine computes features exactly per slice.
    chunking = slices.chunking(loaded.pipe, settings.chunk_length_s, settings.batch_size)
    exact = seq_slices.self_check(loaded.pipe)
    if not exact:
        log.warning("a slice's log-mel features differ from the whole file's here: sequential files go whole")
    writer.send(protocol.ready({**loaded.describe(), "diarization": {
        "backend": diarization.backend, "reason": diarization.reason, "model": diarization.model},
        "file_chunking": {**chunking.describe(), "sequential_windows": seq_slices.windows_per_slice() if exact else 0}},
        os.getpid()))
    return _serve(Service(loaded, writer, vad, file_vad=file_vad), writer, max_bytes)


def _serve(service, writer, max_bytes: int) -> int:
    import framing
    import protocol

    stdin = sys.stdin.buffer
    while True:
        try:
            message = framing.read_frame(stdin, max_bytes)
        except framing.FrameError as exc:
            writer.send(protocol.error(exc.request_id, exc.code, exc.message))
            continue
        except framing.StreamOutOfSync as exc:
            writer.send(protocol.error(None, "stream_out_of_sync", str(exc)))
            return 4
        except EOFError:
            return 0
        if message is None:
            return 0
        if not service.handle(message):
            return 0


if __name__ == "__main__":
    # os._exit: the model worker thread must not keep a dying process alive.
    code = main()
    sys.stderr.flush()
    os._exit(code)
