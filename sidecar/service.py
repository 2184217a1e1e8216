"""Dispatch: one frame in, replies out. Pings are answered at once; model work runs on one worker
thread and voice-activity work on another, so a long decode never delays speech detection. On the
model worker, stream windows go first, and a window that arrives during a file job is decoded before
that job's next model layer (preempt.py), so a file never holds a live stream back.

Owns the threads and the per-request error handling. A request that fails
gets an error frame with its id; only an unrecoverable device fault ends the
process (the supervisor then restarts it), because a CUDA context in that state
cannot be trusted again.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import typing
from typing import BinaryIO, Callable, Optional

import torch

import diarize
import files
import framing
import model as model_module
import protocol
import seq_slices
import slices
import vad_slices
from preempt import ModelQueue, Preemption

log = logging.getLogger("sidecar.service")
EXIT_DEVICE_LOST = 70


class FrameWriter:
    """Serialises frames from the reader and worker threads onto the frame fd."""

    def __init__(self, stream: BinaryIO, max_bytes: int):
        self._stream = stream
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        try:
            data = framing.encode_frame(message, self._max_bytes)
        except framing.FrameError as exc:
            data = framing.encode_frame(protocol.error(exc.request_id, exc.code, exc.message))
        with self._lock:
            self._stream.write(data)
            self._stream.flush()


def _is_window(request) -> bool:
    """Stream windows: transcribe requests that name no file mode."""
    return isinstance(request, protocol.TranscribeRequest) and request.mode is None


def _log_done(kind: str, request, started: float) -> None:
    """A request's debug line once answered: its kind, id, size and milliseconds."""
    items = getattr(request, "items", None)
    size = (f"{len(items)} item" + ("" if len(items) == 1 else "s")) if isinstance(items, list) else "1 part"
    log.debug("%s request %s: %s in %.0f ms", kind, request.id, size, (time.perf_counter() - started) * 1000)



def _is_device_lost(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("CUDA error" in text or "device-side assert" in text)


# Request kinds and their parsers; vad and embed go to the vad lane, the rest to the model lane.
PARSERS = {
    "transcribe": protocol.parse_transcribe,
    "file_slice": protocol.parse_file_slice,
    "file_join": protocol.parse_file_join,
    "file_vad_plan": protocol.parse_file_vad_plan,
    "file_vad_slice": protocol.parse_file_vad_slice,
    "file_diarize": protocol.parse_file_diarize,
    "file_seq_plan": protocol.parse_file_seq_plan,
    "file_seq_slice": protocol.parse_file_seq_slice,
    "vad": protocol.parse_audio_request,
    "embed": protocol.parse_audio_request,
}
# A model-lane request's kind by its class, for its debug line (the parsers' return types).
KINDS = {typing.get_type_hints(parse)["return"]: kind for kind, parse in PARSERS.items() if kind not in ("vad", "embed")}


class Service:
    def __init__(self, loaded: model_module.LoadedModel, writer: FrameWriter, vad,
                 exit_process: Callable[[int], None] = os._exit, file_vad=None):
        self._loaded = loaded
        self._writer = writer
        self._vad = vad
        # Files' VAD (a vad-mode plan or a diarization: ~1.2 s of silero per 100 s of audio on a CPU)
        # runs on the model worker with its own silero instance, so it never holds the streams' VAD lock.
        self._file_vad = file_vad if file_vad is not None else vad
        # Speaker turns for file requests that ask (diarize.py, its VAD a file's); the backend loads on first use.
        self._diarizer = diarize.Diarizer(self._file_vad)
        self._exit = exit_process
        # A pipeline-mode file in slices (slices.py) is chunked exactly as the pipeline chunks it.
        self._chunking = slices.chunking(loaded.pipe, loaded.settings.chunk_length_s, loaded.settings.batch_size)
        self._work: ModelQueue = ModelQueue()
        self._vad_work: "queue.Queue[protocol.AudioRequest | None]" = queue.Queue()
        self._worker = threading.Thread(target=self._run_worker, name="model-worker", daemon=True)
        self._worker.start()
        self._vad_worker = threading.Thread(target=self._run_vad_worker, name="vad-worker", daemon=True)
        self._vad_worker.start()

    def handle(self, message: dict) -> bool:
        """Handle one decoded frame; False means the process should end (shutdown)."""
        kind = message.get("type")
        rid = protocol.request_id(message)
        if kind == "ping":
            self._writer.send(protocol.pong(rid if rid is not None else 0))
        elif kind in PARSERS:
            # Speaker embeddings are small and quick: they share the vad lane, never a decode's.
            parse = PARSERS[kind]
            try:
                request = parse(message)
                if kind in ("vad", "embed"):
                    self._vad_work.put(request)
                else:
                    self._work.put(request, stream=_is_window(request))
            except protocol.ProtocolError as exc:
                self._writer.send(protocol.error(exc.request_id, exc.code, exc.message))
        elif kind == "shutdown":
            self._work.close()
            self._vad_work.put(None)
            self._worker.join()
            self._vad_worker.join()
            self._writer.send(protocol.bye(rid if rid is not None else 0))
            return False
        else:
            self._writer.send(protocol.error(rid, "bad_request", f"unknown message type {kind!r}"))
        return True

    def _run_worker(self) -> None:
        model = self._loaded.pipe.model
        while True:
            request = self._work.get()
            if request is None:
                return
            # Whatever a request does to the model's attention implementation (word timestamps
            # switch it to eager), the next one finds it as loaded.
            with model_module.kept_attention(model):
                if _is_window(request) or isinstance(request, protocol.FileJoinRequest):
                    self._transcribe(request)
                else:
                    self._file_work(request)

    def _file_work(self, request) -> None:
        """File work, with the stream windows that arrive meanwhile decoded inside it."""
        with Preemption(self._loaded.pipe.model, self._next_window, self._window_inside) as preemption:
            self._transcribe(request, preemption.point)
        if preemption.served:
            log.debug("request %s let %d stream windows through", request.id, preemption.served)

    def _window_inside(self, request) -> None:
        """A window decoded inside file work: on the attention the model was loaded with (a
        word-timestamp file runs on eager), as it would be decoded alone."""
        with model_module.kept_attention(self._loaded.pipe.model, during=self._loaded.choice.attn_implementation):
            self._transcribe(request)

    def _next_window(self):
        return self._work.take_stream(lambda r: model_module.uses_engine(self._loaded, r.items, r.return_timestamps))

    def _run_vad_worker(self) -> None:
        while True:
            request = self._vad_work.get()
            if request is None:
                return
            embed = request.kind == "embed"
            started = time.perf_counter()
            try:
                reply = (protocol.embed_result(request.id, self._diarizer.embed(request.items)) if embed
                         else protocol.vad_result(request.id, self._vad.probabilities(request.items)))
            except Exception as exc:  # noqa: BLE001 - reported by id
                log.exception("%s request %s failed", request.kind, request.id)
                self._writer.send(protocol.error(request.id, "transcribe_failed",
                                                 f"{request.kind}: {type(exc).__name__}: {exc}"[:1000]))
                continue
            self._writer.send(reply)
            _log_done(request.kind, request, started)

    def _transcribe_files(self, request: protocol.TranscribeRequest, checkpoint=None) -> list[dict]:
        """File requests (a mode is named): sidecar/files.py, with progress frames when asked."""
        def report(done_s: float, total_s: float, text: str) -> None:
            self._writer.send(protocol.progress(request.id, done_s, total_s, text))

        results = [files.transcribe_file(self._loaded, self._file_vad, item, request.return_timestamps, request.mode,
                                         report if request.progress else None, request.temperature)
                   for item in request.items]
        if request.diarize is not None:
            for item, result in zip(request.items, results):
                result["speakers"] = protocol.speaker_turns(self._speakers(item.audio, request.diarize, checkpoint))
        return results

    def _speakers(self, audio, hints: dict, checkpoint=None) -> list:
        return self._diarizer.diarize(audio, hints.get("num_speakers"), hints.get("min_speakers"),
                                      hints.get("max_speakers"), checkpoint)

    def _answer(self, request, checkpoint: Optional[Callable[[], None]]) -> dict:
        """The reply frame of one model-worker request."""
        started = time.perf_counter()

        def took() -> float:
            return time.perf_counter() - started

        if isinstance(request, protocol.FileSliceRequest):
            return protocol.slice_result(request.id, slices.decode_slice(self._loaded, self._chunking, request), took())
        if isinstance(request, protocol.FileVadSliceRequest):
            return protocol.slice_result(request.id, vad_slices.decode_slice(self._loaded, request), took())
        if isinstance(request, protocol.FileVadPlanRequest):
            return protocol.vad_plan(request.id, vad_slices.plan(self._loaded, self._file_vad, request, checkpoint))
        if isinstance(request, protocol.FileSeqPlanRequest):
            return protocol.seq_plan(request.id, seq_slices.plan(self._loaded, request))
        if isinstance(request, protocol.FileSeqSliceRequest):
            return protocol.slice_result(request.id, seq_slices.decode_slice(self._loaded, request), took())
        if isinstance(request, protocol.FileDiarizeRequest):
            return protocol.speakers(request.id, self._speakers(request.audio, request.hints, checkpoint))
        if isinstance(request, protocol.FileJoinRequest):
            join = {"vad": vad_slices.join, "sequential": seq_slices.join}.get(request.mode, slices.join)
            return protocol.result(request.id, [join(self._loaded, request)], took())
        if request.mode is not None:
            return protocol.result(request.id, self._transcribe_files(request, checkpoint), took())
        items, stats = model_module.transcribe(self._loaded, request.items, request.return_timestamps)
        return protocol.result(request.id, items, took(), stats)

    def _transcribe(self, request, checkpoint: Optional[Callable[[], None]] = None) -> None:
        """Any model-worker request, answered by id (an error frame when it fails); `checkpoint`
        serves waiting stream windows (file work)."""
        started = time.perf_counter()
        try:
            reply = self._answer(request, checkpoint)
        except slices.SliceError as exc:
            self._writer.send(protocol.error(request.id, "bad_request", str(exc)))
            return
        except torch.cuda.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            self._writer.send(protocol.error(request.id, "out_of_memory", str(exc)[:500]))
            return
        except Exception as exc:  # noqa: BLE001 - every failure is reported by id
            log.exception("request %s failed", request.id)
            self._writer.send(protocol.error(request.id, "transcribe_failed", f"{type(exc).__name__}: {exc}"[:1000]))
            if _is_device_lost(exc):
                self._exit(EXIT_DEVICE_LOST)
            return
        self._writer.send(reply)
        # A file request's time includes the windows decoded inside it (each logs its own line first).
        kind = KINDS.get(type(request), type(request).__name__)
        _log_done(f"{kind} ({request.mode} file)" if kind == "transcribe" and request.mode else kind, request, started)
