"""Which worker answers a call that the PBX rings on all of them.

Workers registered as one extension each receive every INVITE the PBX forks.
If several answered, the caller would be connected to one and the others
would ring on, holding one of the four call slots each worker has. So the
first worker to see a new call with a free slot claims it in a table shared
by the workers of this machine (an anonymous shared mapping made before the
fork) and answers; the others refuse at once with 486, keeping their slots
free. The lock is a POSIX record lock: the kernel releases it if a worker is
killed while holding it.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import tempfile
from contextlib import contextmanager
from typing import Iterator

KEY_BYTES = 8
REMEMBERED_CALLS = 256  # far more than the calls that can ring at the same moment


class CallClaims:
    def __init__(self) -> None:
        # [next slot: 8 bytes][REMEMBERED_CALLS keys of KEY_BYTES]
        self._table = mmap.mmap(-1, KEY_BYTES * (REMEMBERED_CALLS + 1))
        self._lock_file = tempfile.TemporaryFile()

    def claim(self, call_id: str) -> bool:
        """True for the first caller of `call_id` only, across the forked workers."""
        key = hashlib.blake2b(call_id.encode(), digest_size=KEY_BYTES).digest()
        with self._locked():
            keys = self._table[KEY_BYTES:]
            if any(keys[i:i + KEY_BYTES] == key for i in range(0, len(keys), KEY_BYTES)):
                return False
            slot = int.from_bytes(self._table[:KEY_BYTES], "little")
            start = KEY_BYTES * (1 + slot % REMEMBERED_CALLS)
            self._table[start:start + KEY_BYTES] = key
            self._table[:KEY_BYTES] = (slot + 1).to_bytes(KEY_BYTES, "little")
            return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.lockf(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(self._lock_file, fcntl.LOCK_UN)
