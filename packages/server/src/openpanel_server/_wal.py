"""Write-ahead log: an event is acknowledged only after it is fsync'd to local disk.

Layout of ``directory``:

* ``<first-seq, 20 digits>.wal`` segments. Each record is a 16-byte header
  ``<u32 length><u64 seq><u32 crc>`` followed by ``length`` payload bytes. The CRC-32 covers
  the payload, then the length and seq, so a torn or garbage tail fails the check.
* ``checkpoint``: the highest seq known to be in the event store, written atomically
  (temp file, fsync, rename, directory fsync).

Sequence numbers start at 1 and increase by one per record, across segments and restarts.

**Group commit.** :meth:`WriteAheadLog.append` assigns seqs and queues the encoded records
under a lock. The first appender that finds no flush in progress becomes the leader: it takes
everything queued so far, writes it with one ``write`` and one ``os.fsync`` (outside the lock)
and wakes the followers whose records were in that batch. Appenders that arrive while a flush
runs queue their records and wait; the next leader flushes all of them together. So N
concurrent appenders cost about one fsync per flush, not N.

**Failure.** If a write or fsync fails the log is poisoned (after a failed fsync the page cache
cannot be trusted): every waiting and later ``append`` raises :class:`WalError`; reopen the log
to recover from what is on disk.

**Recovery.** On open, every segment is scanned. The first bad record of the *last* segment
(short header, short payload, CRC mismatch or an out-of-order seq) marks a torn tail from a
crash: the file is truncated there and fsync'd. A bad record in an earlier segment is
corruption and raises :class:`WalCorruptionError` (segments are fsync'd before a new one is
started, so a crash cannot leave one torn).

Note that a SIGKILL leaves written data in the page cache; only power loss tests the fsync.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["WalCorruptionError", "WalError", "WriteAheadLog"]

_HEADER = struct.Struct("<IQI")  # length, seq, crc
_LEN_SEQ = struct.Struct("<IQ")
_SUFFIX = ".wal"
_CHECKPOINT = "checkpoint"
_MAX_RECORD = 0xFFFFFFFF
_TAIL_BYTES = 64 << 20  # durable, not yet checkpointed records kept in memory for read_from
_DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class WalError(Exception):
    """The write-ahead log failed (I/O error, closed, or poisoned by an earlier failure)."""


class WalCorruptionError(WalError):
    """A sealed segment or the checkpoint file is damaged."""


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{_SUFFIX}"


def _crc(payload: bytes, length: int, seq: int, payload_crc: int | None = None) -> int:
    base = zlib.crc32(payload) if payload_crc is None else payload_crc
    return zlib.crc32(_LEN_SEQ.pack(length, seq), base)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _scan(path: Path, expected_seq: int | None) -> tuple[int, int | None, int]:
    """Validate a segment.

    Returns:
        ``(good_bytes, last_seq, count)``: the offset after the last good record, its seq
        (None when the segment holds no good record) and the number of good records.
    """
    data = path.read_bytes()
    offset = 0
    last: int | None = None
    count = 0
    while offset + _HEADER.size <= len(data):
        length, seq, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if end > len(data):
            break
        if expected_seq is not None and seq != expected_seq:
            break
        if _crc(data[offset + _HEADER.size : end], length, seq) != crc:
            break
        offset, last, count = end, seq, count + 1
        expected_seq = seq + 1
    return offset, last, count


class WriteAheadLog:
    """A segmented, CRC-checked, group-committed append-only log.

    Thread-safe: ``append`` may be called from many threads; ``read_from`` and ``checkpoint``
    may run beside appends.
    """

    def __init__(self, directory: Path, *, segment_bytes: int = _DEFAULT_SEGMENT_BYTES) -> None:
        """Open (creating if needed) the log in ``directory`` and repair a torn tail.

        Args:
            directory: The log directory (owned by this log; one writer process at a time).
            segment_bytes: Start a new segment once the current one reaches this size.

        Raises:
            WalCorruptionError: A sealed segment or the checkpoint is damaged.
        """
        if segment_bytes < _HEADER.size:
            msg = f"segment_bytes must be at least {_HEADER.size}"
            raise ValueError(msg)
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._pending = bytearray()
        self._pending_first = 0  # seq of the first record in _pending
        self._pending_records: list[tuple[int, bytes]] = []
        # The newest durable records past the checkpoint, contiguous and ending at _durable
        # (bounded by _TAIL_BYTES, oldest dropped first): read_from serves them from memory.
        self._tail: deque[tuple[int, bytes]] = deque()
        self._tail_bytes = 0
        self._flushing = False
        self._error: BaseException | None = None
        self._closed = False
        self._checkpoint = self._read_checkpoint()
        self._recover()

    # -- open / recovery ------------------------------------------------------------------

    def _segments(self) -> list[tuple[int, Path]]:
        out: list[tuple[int, Path]] = []
        for path in self._dir.iterdir():
            stem = path.name.removesuffix(_SUFFIX)
            if path.name.endswith(_SUFFIX) and stem.isdigit():
                out.append((int(stem), path))
        out.sort()
        return out

    def _read_checkpoint(self) -> int:
        path = self._dir / _CHECKPOINT
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 0
        seq_text, _, crc_text = text.strip().partition(" ")
        if not seq_text.isdigit() or crc_text != f"{zlib.crc32(seq_text.encode()):08x}":
            msg = f"damaged WAL checkpoint file {path}"
            raise WalCorruptionError(msg)
        return int(seq_text)

    def _recover(self) -> None:
        segments = self._segments()
        last_seq = self._checkpoint
        for index, (first, path) in enumerate(segments):
            good, seg_last, _ = _scan(path, first)
            is_last = index == len(segments) - 1
            if good != path.stat().st_size:
                if not is_last:
                    msg = f"corrupt record in sealed WAL segment {path} at byte {good}"
                    raise WalCorruptionError(msg)
                with path.open("r+b") as handle:
                    handle.truncate(good)
                    handle.flush()
                    os.fsync(handle.fileno())
            last_seq = max(last_seq, first - 1 if seg_last is None else seg_last)
        self._durable = last_seq
        self._next = last_seq + 1
        if segments and segments[-1][1].stat().st_size < self._segment_bytes:
            self._seg_first, path = segments[-1]
            self._seg_size = path.stat().st_size
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        else:
            self._open_segment(self._next)

    def _open_segment(self, first_seq: int) -> None:
        path = self._dir / _segment_name(first_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._seg_first = first_seq
        self._seg_size = os.fstat(self._fd).st_size
        _fsync_dir(self._dir)

    # -- properties -----------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The log directory."""
        return self._dir

    @property
    def last_seq(self) -> int:
        """The seq of the last durable record (0 when none was ever written)."""
        with self._lock:
            return self._durable

    @property
    def checkpointed(self) -> int:
        """The last checkpointed seq (0 when none)."""
        with self._lock:
            return self._checkpoint

    # -- append ---------------------------------------------------------------------------

    def append(self, records: Sequence[bytes]) -> int:
        """Append records and return once they are fsync'd.

        Args:
            records: Payloads (each below 4 GiB). An empty sequence returns ``last_seq``.

        Returns:
            The seq of the last record appended by this call.

        Raises:
            WalError: The log is closed or a write/fsync failed (now or earlier).
        """
        encoded: list[tuple[bytes, int]] = []
        for record in records:
            if len(record) > _MAX_RECORD:
                msg = "WAL record larger than 4 GiB"
                raise ValueError(msg)
            encoded.append((bytes(record), zlib.crc32(record)))
        with self._cond:
            self._check_usable()
            if not encoded:
                return self._next - 1
            if not self._pending:
                self._pending_first = self._next
            for payload, payload_crc in encoded:
                seq = self._next
                self._next += 1
                length = len(payload)
                self._pending_records.append((seq, payload))
                self._pending += _HEADER.pack(length, seq, _crc(payload, length, seq, payload_crc))
                self._pending += payload
            target = self._next - 1
            while self._durable < target:
                self._check_usable()
                if self._flushing:
                    self._cond.wait()
                    continue
                self._lead_flush()
            return target

    def _check_usable(self) -> None:
        if self._error is not None:
            msg = "the WAL failed earlier; reopen it"
            raise WalError(msg) from self._error
        if self._closed:
            msg = "the WAL is closed"
            raise WalError(msg)

    def _lead_flush(self) -> None:
        """Flush everything queued; called with the lock held, releases it during I/O."""
        batch, first = self._pending, self._pending_first
        records = self._pending_records
        upto = self._next - 1
        self._pending = bytearray()
        self._pending_records = []
        self._flushing = True
        self._lock.release()
        error: OSError | None = None
        completed = False
        try:
            if self._seg_size > 0 and self._seg_size + len(batch) > self._segment_bytes:
                os.close(self._fd)
                self._open_segment(first)
            _write_all(self._fd, batch)
            os.fsync(self._fd)
            self._seg_size += len(batch)
            completed = True
        except OSError as exc:
            error = exc
        finally:
            self._lock.acquire()
            self._flushing = False
            if completed:
                self._durable = upto
                self._remember(records)
            else:
                self._error = error or WalError("WAL flush interrupted")
            self._cond.notify_all()
        if error is not None:
            msg = "WAL write/fsync failed"
            raise WalError(msg) from error

    def _remember(self, records: list[tuple[int, bytes]]) -> None:
        """Keep just-durable records in the in-memory tail (lock held)."""
        tail = self._tail
        tail.extend(records)
        self._tail_bytes += sum(len(payload) for _, payload in records)
        while tail and self._tail_bytes > _TAIL_BYTES:
            self._tail_bytes -= len(tail.popleft()[1])

    # -- replay / checkpoint --------------------------------------------------------------

    def read_from(self, seq: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(seq, payload)`` for durable records with a seq of at least ``seq``.

        The end is fixed when iteration starts (records appended later are not included).
        Do not checkpoint past records that are still being read.
        """
        with self._lock:
            upto = self._durable
            tail = self._tail
            if tail and seq >= tail[0][0]:  # all in memory: no disk read, no CRC check
                cached = list(itertools.islice(tail, seq - tail[0][0], None))
            else:
                cached = None
            segments = [] if cached is not None else self._segments()
        if cached is not None:
            yield from cached
            return
        for index, (first, path) in enumerate(segments):
            following = segments[index + 1][0] if index + 1 < len(segments) else None
            if following is not None and following <= seq:
                continue
            if first > upto:
                break
            yield from self._read_segment(path, seq, upto)

    @staticmethod
    def _read_segment(path: Path, start: int, upto: int) -> Iterator[tuple[int, bytes]]:
        with path.open("rb") as handle:
            while True:
                header = handle.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    return
                length, seq, crc = _HEADER.unpack(header)
                if seq > upto:
                    return
                if seq < start:
                    handle.seek(length, os.SEEK_CUR)
                    continue
                payload = handle.read(length)
                if len(payload) != length or _crc(payload, length, seq) != crc:
                    msg = f"corrupt WAL record {seq} in {path}"
                    raise WalCorruptionError(msg)
                yield seq, payload

    def checkpoint(self, seq: int) -> None:
        """Record that every record up to ``seq`` is in the store; drop covered segments.

        A seq at or below the current checkpoint is ignored.

        Raises:
            ValueError: ``seq`` is beyond the last durable record.
        """
        with self._lock:
            self._check_usable()
            if seq > self._durable:
                msg = f"cannot checkpoint {seq}: last durable seq is {self._durable}"
                raise ValueError(msg)
            if seq <= self._checkpoint:
                return
            active_first = self._seg_first
        tmp = self._dir / f"{_CHECKPOINT}.tmp"
        text = f"{seq} {zlib.crc32(str(seq).encode()):08x}\n"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, text.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._dir / _CHECKPOINT)
        _fsync_dir(self._dir)
        with self._lock:
            self._checkpoint = max(self._checkpoint, seq)
            tail = self._tail
            while tail and tail[0][0] <= self._checkpoint:
                self._tail_bytes -= len(tail.popleft()[1])
        segments = self._segments()
        removed = False
        for index, (first, path) in enumerate(segments[:-1]):
            following = segments[index + 1][0]
            # A segment holds seqs first..following-1; never remove the active one.
            if following - 1 <= seq and first < active_first:
                path.unlink(missing_ok=True)
                removed = True
        if removed:
            _fsync_dir(self._dir)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Wait for an in-flight flush, then close the segment (idempotent)."""
        with self._cond:
            if self._closed:
                return
            while self._flushing:
                self._cond.wait()
            self._closed = True
            self._cond.notify_all()
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
