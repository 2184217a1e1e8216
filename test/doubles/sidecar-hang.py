"""LABELLED TEST DOUBLE: a sidecar that hangs. It says it is ready, then never answers anything,
not even a ping — the fault the real sidecar cannot produce on demand. Used only by
test/integration/supervision-faults.test.ts."""
import time

from _frames import READY, frames, send

send(READY)
for _ in frames():
    pass
time.sleep(3600)
