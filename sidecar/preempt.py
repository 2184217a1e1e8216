"""Stream windows go ahead of file work inside the sidecar, down to one model layer of the file.

A file job (a pipeline-mode slice, a vad-mode plan or slice, a sequential file) runs for seconds to minutes in one call.
The server sends a stream window while such a job is in flight (its own lane, src/sidecar/
supervisor.ts); here it waits in the model queue's stream side, and `Preemption` serves it at the
next *preemption point* of the file job: a forward pre-hook on each of the file model's decoder
layers (a few calls per generated token, all beams at once) and on each encoder layer. The window
is decoded right there, on the same thread, then the file job goes on where it was. A `vad`-mode
file's plan runs silero, not Whisper: it calls `point()` every few seconds of audio instead.

Why this is exact for the file: the hooks only read the queue and run other forward passes with
their own inputs and caches; nothing the file's generate() holds (its cache, its logits processors,
its beams) is touched, and the model's weights and modules are not changed. tests/test_preempt.py
checks a preempted slice's outputs byte for byte against the same slice alone.

Not let in: a window that needs the pipeline itself (word timestamps, or longer than 30 s): it waits
for the file job. A file job with word timestamps runs on eager attention (transformers switches
the shared model to it, see model.kept_attention); a window decoded inside it runs on the
implementation the model was loaded with, as alone (service.py), and the file's forward passes go
on in eager. A file's speaker diarization (Resemblyzer, after its decoding) is not Whisper either:
it calls `point()` between its steps too; pyannote's pipeline runs as one call, without a point.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class ModelQueue(Generic[T]):
    """The model worker's queue: stream windows first, then file work, each side in arrival order."""

    def __init__(self) -> None:
        self._stream: deque[T] = deque()
        self._file: deque[T] = deque()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, request: T, stream: bool) -> None:
        with self._ready:
            (self._stream if stream else self._file).append(request)
            self._ready.notify()

    def get(self) -> Optional[T]:
        """The next request, blocking; None once closed and empty (the worker then ends)."""
        with self._ready:
            while not self._stream and not self._file:
                if self._closed:
                    return None
                self._ready.wait()
            return (self._stream or self._file).popleft()

    def pending(self) -> int:
        """Requests waiting (stream and file)."""
        with self._ready:
            return len(self._stream) + len(self._file)

    def take_stream(self, admit: Callable[[T], bool]) -> Optional[T]:
        """The oldest waiting stream window if `admit` lets it run inside a file job; never blocks."""
        with self._ready:
            if self._stream and admit(self._stream[0]):
                return self._stream.popleft()
            return None

    def close(self) -> None:
        """Serve what is queued, then make get() return None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class Preemption:
    """While entered, every forward pass of one of `model`'s decoder or encoder layers first serves the
    stream windows `take()` hands out (with `serve`), one after another, until none is waiting.

    Re-entrant safe: a window's own forward passes run through the same modules, and the hooks do
    nothing while a window is being served.
    """

    def __init__(self, model: Any, take: Callable[[], Optional[Any]], serve: Callable[[Any], None]):
        inner = model.model
        # Each decoder and encoder layer: a decoding step of a large batch (a 16-chunk slice with 5
        # beams is 80 rows) or its first step (the cross-attention keys of every row) can take
        # seconds on a CPU, a layer of it a fraction of that.
        self._modules = [*inner.decoder.layers, *inner.encoder.layers]
        self._take = take
        self._serve = serve
        self._serving = False
        self._handles: list = []
        self.served = 0

    def __enter__(self) -> "Preemption":
        self._handles = [m.register_forward_pre_hook(self._point) for m in self._modules]
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def point(self) -> None:
        """A preemption point outside the model's layers (a file's VAD plan calls it between frames)."""
        self._point(None, None)

    def _point(self, module: Any, args: Any) -> None:
        if self._serving:
            return
        self._serving = True
        try:
            while (request := self._take()) is not None:
                self._serve(request)
                self.served += 1
        finally:
            self._serving = False
