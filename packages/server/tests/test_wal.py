from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openpanel_server._wal import WalCorruptionError, WalError, WriteAheadLog


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def _all(wal: WriteAheadLog, start: int = 1) -> list[tuple[int, bytes]]:
    return list(wal.read_from(start))


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        assert wal.last_seq == 0
        assert wal.append([b"a", b"bb"]) == 2
        assert wal.append([]) == 2
        assert wal.append([b"", b"x" * 1000]) == 4
        assert _all(wal) == [(1, b"a"), (2, b"bb"), (3, b""), (4, b"x" * 1000)]
        assert _all(wal, 3) == [(3, b""), (4, b"x" * 1000)]
    with WriteAheadLog(tmp_path) as wal:
        assert wal.last_seq == 4
        assert wal.append([b"after"]) == 5
        assert [s for s, _ in _all(wal)] == [1, 2, 3, 4, 5]


def test_append_after_close_raises(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.close()
    wal.close()
    with pytest.raises(WalError):
        wal.append([b"x"])


def _counting_fsync(monkeypatch: pytest.MonkeyPatch, delay: float) -> list[int]:
    calls: list[int] = []
    real: Callable[[int], None] = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        time.sleep(delay)  # a slow disk makes batching certain
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_group_commit_batches_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal = WriteAheadLog(tmp_path)
    calls = _counting_fsync(monkeypatch, 0.002)
    threads, per_thread = 16, 25
    acked: list[list[tuple[int, bytes]]] = [[] for _ in range(threads)]

    def work(tid: int) -> None:
        for i in range(per_thread):
            payload = f"{tid}:{i}".encode()
            acked[tid].append((wal.append([payload]), payload))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    total = threads * per_thread
    assert len(calls) < total / 2, (len(calls), total)
    on_disk = dict(_all(wal))
    assert sorted(on_disk) == list(range(1, total + 1))
    for per in acked:
        for seq, payload in per:
            assert on_disk[seq] == payload
    wal.close()


def test_torn_tail_is_truncated(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        wal.append([b"one", b"two", b"three"])
    (segment,) = _segments(tmp_path)
    good_size = segment.stat().st_size
    with segment.open("ab") as f:
        # A header that promises 100 bytes, followed by only 10 of them.
        f.write((100).to_bytes(4, "little") + (4).to_bytes(8, "little") + b"\0\0\0\0" + b"z" * 10)
    with WriteAheadLog(tmp_path) as wal:
        assert segment.stat().st_size == good_size
        assert _all(wal) == [(1, b"one"), (2, b"two"), (3, b"three")]
        assert wal.append([b"four"]) == 4
    with segment.open("ab") as f:
        f.write(b"\x07garbage")
    with WriteAheadLog(tmp_path) as wal:
        assert [p for _, p in _all(wal)] == [b"one", b"two", b"three", b"four"]


def test_bad_crc_in_tail_drops_the_record(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        wal.append([b"keep", b"flip"])
    (segment,) = _segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    with WriteAheadLog(tmp_path) as wal:
        assert _all(wal) == [(1, b"keep")]
        assert wal.append([b"new"]) == 2


def test_corrupt_sealed_segment_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=64) as wal:
        for i in range(6):
            wal.append([b"r" * 40 + bytes([i])])
    first = _segments(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[20] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError):
        WriteAheadLog(tmp_path, segment_bytes=64)


def test_checkpoint_deletes_covered_segments(tmp_path: Path) -> None:
    record = b"p" * 300
    with WriteAheadLog(tmp_path, segment_bytes=1024) as wal:
        for _ in range(20):
            wal.append([record])
        segments = _segments(tmp_path)
        assert len(segments) >= 6
        with pytest.raises(ValueError, match="last durable"):
            wal.checkpoint(21)
        wal.checkpoint(10)
        remaining = _segments(tmp_path)
        assert len(remaining) < len(segments)
        firsts = [int(p.stem) for p in remaining]
        assert firsts[0] <= 11  # everything above the checkpoint survives
        assert [s for s, _ in wal.read_from(11)] == list(range(11, 21))
        wal.checkpoint(5)  # lower: ignored
        assert wal.checkpointed == 10
    with WriteAheadLog(tmp_path, segment_bytes=1024) as wal:
        assert wal.checkpointed == 10
        assert wal.last_seq == 20
        wal.checkpoint(20)
        assert len(_segments(tmp_path)) == 1  # only the active segment is kept
        assert wal.append([b"next"]) == 21
    with WriteAheadLog(tmp_path, segment_bytes=1024) as wal:
        assert wal.last_seq == 21
        assert _all(wal, 21) == [(21, b"next")]


def test_sequence_continues_after_everything_is_checkpointed(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path, segment_bytes=32) as wal:
        wal.append([b"a" * 20])
        wal.append([b"b" * 20])
        wal.checkpoint(2)
    for path in _segments(tmp_path):
        if path.stat().st_size == 0 or int(path.stem) <= 2:
            path.unlink()  # simulate an empty directory apart from the checkpoint
    with WriteAheadLog(tmp_path, segment_bytes=32) as wal:
        assert wal.last_seq == 2
        assert wal.append([b"c"]) == 3


def test_damaged_checkpoint_file_raises(tmp_path: Path) -> None:
    with WriteAheadLog(tmp_path) as wal:
        wal.append([b"a"])
        wal.checkpoint(1)
    (tmp_path / "checkpoint").write_text("12 deadbeef\n")
    with pytest.raises(WalCorruptionError):
        WriteAheadLog(tmp_path)


_CHILD = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from openpanel_server._wal import WriteAheadLog

    wal = WriteAheadLog(Path(sys.argv[1]), segment_bytes=32 * 1024)
    out = threading.Lock()

    def work(tid):
        i = 0
        while True:
            payload = f"{tid}-{i}-".encode() + b"." * 280
            seq = wal.append([payload])
            with out:
                sys.stdout.write(f"{seq} {tid}-{i}\\n")
                sys.stdout.flush()
            i += 1

    for t in range(4):
        threading.Thread(target=work, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.parametrize("round_", range(3))
def test_sigkill_keeps_every_acknowledged_record_once(tmp_path: Path, round_: int) -> None:
    rng = random.Random(round_)
    directory = tmp_path / "wal"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(directory)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # wait until appends are flowing
    assert first
    time.sleep(rng.uniform(0.05, 0.6))
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    lines = (first + rest).decode().split("\n")
    acked: dict[int, str] = {}
    for line in lines[:-1]:  # the last piece may be a torn line
        seq_text, key = line.split(" ")
        acked[int(seq_text)] = key
    assert len(acked) > 1

    with WriteAheadLog(directory, segment_bytes=32 * 1024) as wal:
        records = list(wal.read_from(1))
    seqs = [s for s, _ in records]
    assert seqs == list(range(1, len(seqs) + 1))
    keys = [payload.split(b"-.")[0].decode() for _, payload in records]
    assert len(set(keys)) == len(keys)  # exactly once
    by_seq = dict(zip(seqs, keys, strict=True))
    for seq, key in acked.items():
        assert by_seq.get(seq) == key


def test_reads_past_the_checkpoint_come_from_memory_and_match_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpanel_server._wal as wal_module

    monkeypatch.setattr(wal_module, "_TAIL_BYTES", 2_000)  # holds about 20 of these records
    records = [f"record-{i:03d}-".encode() * 5 for i in range(1, 101)]
    log = WriteAheadLog(tmp_path / "wal", segment_bytes=1_500)
    for i in range(0, 100, 7):
        log.append(records[i : i + 7])
    expected = list(enumerate(records, start=1))
    opened: list[object] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", counting_open)
    assert list(log.read_from(90)) == expected[89:]  # the newest: from memory
    assert opened == []
    assert list(log.read_from(101)) == []
    assert list(log.read_from(1)) == expected  # older than the memory holds: from disk
    assert opened
    opened.clear()
    log.checkpoint(95)
    assert list(log.read_from(96)) == expected[95:]
    assert opened == []
    log.close()
    with WriteAheadLog(tmp_path / "wal") as reopened:  # nothing in memory after a restart
        assert list(reopened.read_from(96)) == expected[95:]
    assert opened
