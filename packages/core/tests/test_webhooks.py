from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import FrozenInstanceError, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from openpanel_core import _webhooks, webhooks
from openpanel_core._errors import OpenPanelError
from openpanel_core.webhooks import (
    InvalidPayloadError,
    InvalidSecretError,
    InvalidTimestampError,
    MalformedHeaderError,
    MissingHeaderError,
    NoSupportedSignatureError,
    PayloadTooLargeError,
    ReplayedMessageError,
    SignatureMismatchError,
    TimestampOutOfToleranceError,
    Verifier,
    WebhookError,
    WebhookMessage,
    WebhookVerificationError,
    constant_time_equal,
    generate_secret,
    sign,
    verify,
)

# The official Standard Webhooks vector, shared by the reference libraries of every language.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()
LEGACY_HEX = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def v1(body: bytes = BODY, *, key: bytes = KEY, msg_id: str = MSG_ID, ts: int | str = TS) -> str:
    """A v1 entry computed independently of the module under test."""
    digest = hmac.new(
        key, f"{msg_id}.{ts}.".encode("utf-8", "surrogatepass") + body, hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def std(**overrides: str | None) -> dict[str, str]:
    """The official vector's headers; ``name=None`` removes a header. Underscores become dashes."""
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": SIG}
    for name, value in overrides.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header, None)
        else:
            headers[header] = value
    return headers


def legacy(signature: str | None = LEGACY_HEX, **extra: str) -> dict[str, str]:
    headers = {"content-type": "application/json", **extra}
    if signature is not None:
        headers["X-OpenPanel-Signature"] = signature
    return headers


# ---------------------------------------------------------------------------- official vector


def test_sign_reproduces_the_official_vector() -> None:
    assert sign(BODY, SECRET, msg_id=MSG_ID, timestamp=TS) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TS),
        "webhook-signature": SIG,
    }


def test_verify_accepts_the_official_vector() -> None:
    message = verify(BODY, std(), SECRET, now=TS)
    assert message == WebhookMessage(
        id=MSG_ID, timestamp=TS, type=None, data={"test": 2432232314}, body=BODY
    )


def test_independent_helper_matches_the_vector() -> None:
    # Guards the table below: its v1() helper must agree with the published signature.
    assert v1() == SIG


# ------------------------------------------------------------------------------ hostile table


@dataclass(frozen=True)
class Case:
    name: str
    headers: Any
    expect: type[WebhookError] | None
    reason: str | None
    body: bytes | bytearray | memoryview
    secrets: Any
    kwargs: dict[str, Any]


def make(
    name: str,
    headers: Any,
    expect: type[WebhookError] | None,
    reason: str | None = None,
    *,
    body: bytes | bytearray | memoryview = BODY,
    secrets: Any = SECRET,
    **kwargs: Any,
) -> Case:
    return Case(name, headers, expect, reason, body, secrets, kwargs)


def _std_cases() -> Iterator[Case]:
    ok, mismatch = None, SignatureMismatchError
    yield make("official vector", std(), ok)
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        yield make(f"missing {header}", std(**{header: None}), MissingHeaderError, "missing_header")
        yield make(f"empty {header}", std(**{header: ""}), MissingHeaderError, "missing_header")
    yield make("no headers at all", {}, MissingHeaderError, "missing_header")
    yield make(
        "whitespace-only signature", std(webhook_signature=" \t "), NoSupportedSignatureError
    )
    for bad_ts in (
        "1614265330.9",
        "1614265330.0",
        "+1614265330",
        "-1614265330",
        " 1614265330",
        "1614265330 ",
        "1614265330\n",
        "1.61426533e9",
        "0x6037b8f2",
        "1_614_265_330",
        "1614265330000",  # 13 digits
        "\u0661\u0666\u0661\u0664\u0662\u0666\u0665\u0663\u0663\u0660",  # Arabic-Indic digits
        "\uff11\uff16\uff11\uff14\uff12\uff16\uff15\uff13\uff13\uff10",  # fullwidth digits
        "NaN",
        "inf",
        "x",
    ):
        yield make(f"timestamp {bad_ts!r}", std(webhook_timestamp=bad_ts), InvalidTimestampError)
    yield make("12 digits is a valid format", std(webhook_timestamp="001614265330"), mismatch)

    yield make(
        "too old by tolerance+1",
        std(),
        TimestampOutOfToleranceError,
        "timestamp_too_old",
        now=TS + 301,
    )
    yield make(
        "too new by tolerance+1",
        std(),
        TimestampOutOfToleranceError,
        "timestamp_too_new",
        now=TS - 301,
    )
    yield make("old at the inclusive bound", std(), ok, now=TS + 300)
    yield make("new at the inclusive bound", std(), ok, now=TS - 300)
    yield make(
        "fractional now just past the bound",
        std(),
        TimestampOutOfToleranceError,
        "timestamp_too_old",
        now=TS + 300.5,
    )
    yield make(
        "custom tolerance",
        std(),
        TimestampOutOfToleranceError,
        "timestamp_too_old",
        now=TS + 11,
        tolerance=10,
    )
    yield make("zero tolerance, same second", std(), ok, tolerance=0)
    yield make(
        "aware datetime now", std(), ok, now=datetime.fromtimestamp(TS + 60, tz=timezone.utc)
    )
    yield make(
        "time is checked before the signature",
        std(webhook_signature="v1,AAAA"),
        TimestampOutOfToleranceError,
        "timestamp_too_old",
        now=TS + 3600,
    )

    yield make("double spaces", std(webhook_signature=f"v1,AAAA  {SIG}"), ok)
    yield make("tabs and newlines", std(webhook_signature=f"\tv1,AAAA\n{SIG}\t"), ok)
    yield make("token without comma, then valid", std(webhook_signature=f"garbage {SIG}"), ok)
    yield make(
        "only tokens without comma", std(webhook_signature="v1 garbage"), NoSupportedSignatureError
    )
    yield make("extra commas", std(webhook_signature=SIG + ",AAAA"), mismatch)
    yield make("extra commas, then valid", std(webhook_signature=f"v1,a,b {SIG}"), ok)
    yield make("bad base64", std(webhook_signature="v1,!!!!not*base64"), mismatch)
    yield make("bad base64, then valid", std(webhook_signature=f"v1,%%% {SIG}"), ok)
    yield make("unpadded base64", std(webhook_signature=SIG.rstrip("=")), mismatch)
    yield make(
        "base64 with junk inside", std(webhook_signature=SIG[:10] + "!" + SIG[10:]), mismatch
    )
    yield make("empty v1 entry", std(webhook_signature="v1,"), mismatch)
    yield make("truncated signature", std(webhook_signature=SIG[:-6]), mismatch)
    short = "v1," + base64.b64encode(base64.b64decode(SIG[3:])[:16]).decode()
    yield make("decodable but short signature", std(webhook_signature=short), mismatch)
    yield make("non-ASCII signature", std(webhook_signature=SIG[:-2] + "\u00e9="), mismatch)
    yield make("lone surrogate signature", std(webhook_signature=SIG[:-2] + "\udc80="), mismatch)
    yield make("non-ASCII id", std(webhook_id="msg_\u00e9"), MalformedHeaderError)
    yield make("id with a dot", std(webhook_id="msg.1"), MalformedHeaderError)
    yield make(
        "non-ASCII timestamp", std(webhook_timestamp="16142653\u00b30"), InvalidTimestampError
    )
    yield make(
        "v1a-only entry", std(webhook_signature="v1a," + "A" * 86 + "=="), NoSupportedSignatureError
    )
    yield make(
        "unknown versions only",
        std(webhook_signature="v2,AAAA V1," + SIG[3:]),
        NoSupportedSignatureError,
    )
    yield make("v1a entry, then v1", std(webhook_signature=f"v1a,AAAA {SIG}"), ok)
    yield make("wrong secret", std(), mismatch, secrets=OTHER_SECRET)
    yield make("tampered body", std(), mismatch, body=b'{"test": 2432232315}')
    yield make("body with a trailing newline", std(), mismatch, body=BODY + b"\n")
    yield make("signature for another id", std(webhook_id="msg_other"), mismatch)

    # Signed correctly, so only the payload check can refuse them.
    for label, payload in (
        ("non-UTF-8 body", b'{"a": "\xff\xfe"}'),
        ("non-JSON body", b"hello, world"),
        ("empty body", b""),
        ("JSON array body", b"[1, 2]"),
        ("JSON string body", b'"text"'),
        ("UTF-8 BOM", b'\xef\xbb\xbf{"a": 1}'),
        ("UTF-16 body", '{"a": 1}'.encode("utf-16")),
        ("deeply nested JSON", b"[" * 200_000),
        ("encoded surrogate", b'{"a": "\xed\xb2\x80"}'),
    ):
        headers = std(webhook_signature=v1(payload))
        yield make(f"{label}, parse=True", headers, InvalidPayloadError, body=payload)
        yield make(f"{label}, parse=False", headers, ok, body=payload, parse=False)

    yield make(
        "oversize body",
        std(),
        PayloadTooLargeError,
        "payload_too_large",
        max_body_bytes=len(BODY) - 1,
    )
    yield make(
        "oversize body is refused before header checks",
        {},
        PayloadTooLargeError,
        "payload_too_large",
        max_body_bytes=len(BODY) - 1,
    )
    yield make("body exactly at the cap", std(), ok, max_body_bytes=len(BODY))
    yield make("bytearray body", std(), ok, body=bytearray(BODY))
    yield make("memoryview body", std(), ok, body=memoryview(BODY))

    yield make("rotation: new and old secret", std(), ok, secrets=[OTHER_SECRET, SECRET])
    yield make("rotation: old and new secret", std(), ok, secrets=(SECRET, OTHER_SECRET))
    both = f"{v1(key=b'another key of 24 bytes!')} {SIG}"
    yield make(
        "rotation: two entries, new secret only",
        std(webhook_signature=both),
        ok,
        secrets=[OTHER_SECRET],
    )
    yield make("rotation: retired secret", std(), mismatch, secrets=[OTHER_SECRET])
    yield make("raw bytes secret", std(), ok, secrets=KEY)
    yield make("secret without the whsec_ prefix", std(), ok, secrets=SECRET.removeprefix("whsec_"))

    yield make(
        "mixed-case dict",
        {
            "Webhook-Id": MSG_ID,
            "WEBHOOK-TIMESTAMP": str(TS),
            "webhook-Signature": SIG,
            "Content-Type": "x",
        },
        ok,
    )
    yield make("list of pairs", [("Content-Type", "x"), *std().items()], ok)
    yield make("tuple of mixed-case pairs", tuple((k.upper(), v) for k, v in std().items()), ok)
    yield make(
        "duplicate pairs: the first one wins",
        [*std().items(), ("Webhook-Signature", "v1,AAAA")],
        ok,
    )
    yield make(
        "duplicate pairs: the first one wins, bad first",
        [("Webhook-Signature", "v1,AAAA"), *std().items()],
        mismatch,
    )
    yield make(
        "svix headers without the flag",
        {k.replace("webhook", "svix"): v for k, v in std().items()},
        MissingHeaderError,
    )
    yield make(
        "svix headers with the flag",
        {k.replace("webhook", "svix"): v for k, v in std().items()},
        ok,
        accept_svix_headers=True,
    )
    yield make(
        "webhook-* wins over svix-*",
        {**std(), "svix-signature": "v1,AAAA", "svix-id": "x", "svix-timestamp": "1"},
        ok,
        accept_svix_headers=True,
    )
    yield make(
        "partial webhook-* never mixes with svix-*",
        {"webhook-id": MSG_ID, "svix-timestamp": str(TS), "svix-signature": SIG},
        MissingHeaderError,
        accept_svix_headers=True,
    )


def _legacy_cases() -> Iterator[Case]:
    ok = None
    op: dict[str, Any] = {"scheme": "openpanel"}
    yield make("legacy ok", legacy(), ok, **op)
    yield make("legacy uppercase hex", legacy(LEGACY_HEX.upper()), ok, **op)
    yield make("legacy sha256= prefix", legacy("sha256=" + LEGACY_HEX), ok, **op)
    yield make("legacy mixed-case header name", {"x-openpanel-signature": LEGACY_HEX}, ok, **op)
    yield make("legacy SHA256= prefix", legacy("SHA256=" + LEGACY_HEX), MalformedHeaderError, **op)
    yield make("legacy 63 chars", legacy(LEGACY_HEX[:63]), MalformedHeaderError, **op)
    yield make("legacy 65 chars", legacy(LEGACY_HEX + "0"), MalformedHeaderError, **op)
    yield make("legacy non-hex", legacy("g" * 64), MalformedHeaderError, **op)
    yield make("legacy non-ASCII", legacy("\u00e9" * 64), MalformedHeaderError, **op)
    yield make("legacy non-ASCII digits", legacy("\u0661" * 64), MalformedHeaderError, **op)
    yield make(
        "legacy with spaces",
        legacy(LEGACY_HEX[:30] + "  " + LEGACY_HEX[32:]),
        MalformedHeaderError,
        **op,
    )
    yield make(
        "legacy 64 hex with an inserted space",
        legacy(LEGACY_HEX[:32] + " " + LEGACY_HEX[32:]),
        MalformedHeaderError,
        **op,
    )
    yield make(
        "legacy 64 hex with a trailing newline",
        legacy(LEGACY_HEX + "\n"),
        MalformedHeaderError,
        **op,
    )
    yield make("legacy base64 signature", legacy(SIG[3:]), MalformedHeaderError, **op)
    yield make("legacy header absent", legacy(None), MissingHeaderError, **op)
    yield make("legacy header empty", legacy(""), MissingHeaderError, **op)
    yield make("legacy wrong secret", legacy(), SignatureMismatchError, secrets=OTHER_SECRET, **op)
    yield make("legacy tampered body", legacy(), SignatureMismatchError, body=BODY + b" ", **op)
    yield make("legacy rotation", legacy(), ok, secrets=[OTHER_SECRET, SECRET], **op)
    yield make("legacy ignores the clock", legacy(), ok, **op, now=0)
    yield make("legacy oversize", legacy(), PayloadTooLargeError, **op, max_body_bytes=1)
    # Never auto-detected: each scheme ignores the other's headers ...
    yield make("standard request verified as legacy", std(), MissingHeaderError, **op)
    yield make("legacy request verified as standard", legacy(), MissingHeaderError)
    yield make("dual-signed request, standard", {**std(), **legacy()}, ok)
    yield make("dual-signed request, legacy", {**std(), **legacy()}, ok, **op)
    # ... and the keys differ, so one scheme's signature never passes as the other's.
    legacy_as_v1 = "v1," + base64.b64encode(bytes.fromhex(LEGACY_HEX)).decode()
    yield make(
        "legacy digest as a v1 entry", std(webhook_signature=legacy_as_v1), SignatureMismatchError
    )
    v1_key_hex = hmac.new(KEY, BODY, hashlib.sha256).hexdigest()
    yield make("v1-key digest as legacy", legacy(v1_key_hex), SignatureMismatchError, **op)


CASES = [*_std_cases(), *_legacy_cases()]


def _run(case: Case) -> WebhookMessage:
    kwargs: dict[str, Any] = {"now": TS, **case.kwargs}
    return verify(case.body, case.headers, case.secrets, **kwargs)


def _outcome(call: Callable[[], object]) -> Exception | None:
    """The exception ``call`` raised, of whatever class, or None."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def test_case_names_are_unique() -> None:
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(case: Case) -> None:
    if case.expect is None:
        message = _run(case)
        assert message.body == bytes(case.body)
        assert type(message.body) is bytes
        return
    with pytest.raises(WebhookError) as info:
        _run(case)
    assert type(info.value) is case.expect
    if case.reason is not None:
        assert info.value.reason == case.reason
    else:  # classes with one fixed reason
        assert info.value.reason == case.expect.reason


def test_nothing_but_webhook_errors_escape() -> None:
    outcomes: dict[str, int] = {}
    for case in CASES:
        exc = _outcome(lambda case=case: _run(case))
        assert exc is None or isinstance(exc, WebhookError), (case.name, exc)
        reason = "ok" if exc is None else exc.reason
        outcomes[reason] = outcomes.get(reason, 0) + 1
    assert set(outcomes) == {
        "ok",
        "missing_header",
        "malformed_header",
        "invalid_timestamp",
        "timestamp_too_old",
        "timestamp_too_new",
        "no_supported_signature",
        "signature_mismatch",
        "invalid_payload",
        "payload_too_large",
    }


def test_timestamp_error_attributes() -> None:
    with pytest.raises(TimestampOutOfToleranceError) as info:
        verify(BODY, std(), SECRET, now=TS + 301)
    assert (info.value.timestamp, info.value.now, info.value.tolerance) == (TS, TS + 301, 300)
    assert info.value.http_status == 400


# ----------------------------------------------------------------------------------- fuzzing

_ALPHABET = (
    "abv10123456789+/=,. \t\n"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-:;\x00\x7f\u00e9\u00ff\u0661\uff11\u2003\u00a0\udc80\U0001f600"
)


def _random_text(rng: random.Random, max_len: int = 60) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(max_len)))


_JSON_SHARDS = [b"[", b"{", b'"', b"[]", b"{}", b"null", b"1e999", b"NaN", b'{"type": 1}']


def _random_body(rng: random.Random) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        return rng.randbytes(rng.randrange(64))
    if choice == 1:
        return _random_text(rng).encode("utf-8", "surrogatepass")
    if choice == 2:
        return json.dumps({"type": _random_text(rng, 8), "n": rng.random()}).encode()
    return rng.choice(_JSON_SHARDS) * rng.randrange(9)


def _random_signature(rng: random.Random, good: str) -> str:
    tokens = [rng.choice([good, good[:-1], "v1a," + good[3:], _random_text(rng, 12)])]
    tokens += [_random_text(rng, 50) for _ in range(rng.randrange(3))]
    rng.shuffle(tokens)
    return rng.choice([" ", "  ", "\t", ","]).join(tokens)


def test_fuzz_only_webhook_errors() -> None:
    rng = random.Random(1234)
    outcomes: dict[str, int] = {}
    for _ in range(2000):
        body = _random_body(rng)
        msg_id = rng.choice([MSG_ID, _random_text(rng, 20)])
        ts_text = rng.choice([str(TS), str(TS + rng.randrange(-400, 400)), _random_text(rng, 14)])
        good = v1(body, msg_id=msg_id, ts=ts_text)
        headers: dict[str, str] = {
            "webhook-id": msg_id,
            "webhook-timestamp": ts_text,
            "webhook-signature": _random_signature(rng, good),
            "X-OpenPanel-Signature": rng.choice(
                [hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(), _random_text(rng)]
            ),
            "X-OpenPanel-Event": _random_text(rng, 10),
        }
        for name in list(headers):
            if rng.random() < 0.1:
                del headers[name]
        kwargs: dict[str, Any] = {
            "now": TS + rng.randrange(-400, 400),
            "parse": rng.random() < 0.7,
            "scheme": rng.choice(["standard", "openpanel"]),
            "max_body_bytes": rng.choice([1_048_576, 32]),
        }
        pairs = list(headers.items()) if rng.random() < 0.5 else headers
        secrets = rng.choice([SECRET, [OTHER_SECRET, SECRET]])
        exc = _outcome(lambda: verify(body, pairs, secrets, **kwargs))  # noqa: B023 - called now
        assert exc is None or isinstance(exc, WebhookError), (body, headers, kwargs, exc)
        reason = "ok" if exc is None else exc.reason
        outcomes[reason] = outcomes.get(reason, 0) + 1
    # The generator must reach every stage, or it proves little.
    assert {"ok", "invalid_payload", "signature_mismatch", "invalid_timestamp"} <= set(outcomes)
    assert {"malformed_header", "missing_header", "no_supported_signature"} <= set(outcomes)
    assert {"timestamp_too_old", "timestamp_too_new", "payload_too_large"} <= set(outcomes)


# ------------------------------------------------------------------------ other header shapes


class _CaseInsensitiveHeaders(Mapping[str, str]):
    """Like Django's request.headers or Starlette's Headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._store = {k.lower(): v for k, v in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)


def test_case_insensitive_mapping() -> None:
    headers = _CaseInsensitiveHeaders(
        {"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(TS), "Webhook-Signature": SIG}
    )
    assert verify(BODY, headers, SECRET, now=TS).id == MSG_ID
    with pytest.raises(MissingHeaderError):
        verify(BODY, _CaseInsensitiveHeaders({}), SECRET, now=TS)


def test_generator_of_pairs() -> None:
    assert verify(BODY, (pair for pair in std().items()), SECRET, now=TS).id == MSG_ID


def test_werkzeug_environ_headers() -> None:
    datastructures = pytest.importorskip("werkzeug.datastructures")
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in std().items()}
    headers = datastructures.EnvironHeaders(environ)
    assert verify(BODY, headers, SECRET, now=TS).id == MSG_ID
    with pytest.raises(MissingHeaderError):
        verify(BODY, datastructures.EnvironHeaders({}), SECRET, now=TS)


# ----------------------------------------------------------------------- message and Verifier


def test_message_type_comes_from_the_signed_body() -> None:
    body = b'{"type": "event.created", "data": {"a": 1}}'
    headers = {**std(webhook_signature=v1(body)), "X-OpenPanel-Event": "forged.type"}
    message = verify(body, headers, SECRET, now=TS)
    assert (message.type, message.data) == (
        "event.created",
        {"type": "event.created", "data": {"a": 1}},
    )
    # The standard scheme never reads the unsigned legacy header, parsed or not.
    assert verify(BODY, headers | {"webhook-signature": SIG}, SECRET, now=TS).type is None
    assert verify(body, headers, SECRET, now=TS, parse=False).type is None


def test_legacy_message_fields() -> None:
    headers = legacy(**{"X-OpenPanel-Event": "event.created", "X-OpenPanel-Delivery": "msg_1"})
    message = verify(BODY, headers, SECRET, scheme="openpanel", parse=False)
    assert (message.id, message.timestamp, message.type, message.data) == (
        "msg_1",
        None,
        "event.created",
        None,
    )
    bare = verify(BODY, legacy(), SECRET, scheme="openpanel")
    assert (bare.id, bare.type, bare.data) == (None, None, {"test": 2432232314})


def test_message_is_frozen_and_its_repr_hides_the_body() -> None:
    message = verify(
        b'{"secret": "hunter2"}',
        std(webhook_signature=v1(b'{"secret": "hunter2"}')),
        SECRET,
        now=TS,
    )
    with pytest.raises(FrozenInstanceError):
        message.id = "other"  # pyright: ignore[reportAttributeAccessIssue]
    assert "hunter2" not in repr(message)
    assert MSG_ID in repr(message)
    assert hash(message) == hash(dataclasses.replace(message))  # data (a dict) is not hashed


def test_verifier_replay_store() -> None:
    seen_ids: set[str] = set()
    calls: list[str] = []

    def seen(msg_id: str) -> bool:
        calls.append(msg_id)
        if msg_id in seen_ids:
            return True
        seen_ids.add(msg_id)
        return False

    verifier = Verifier([OTHER_SECRET, SECRET], seen=seen)
    assert verifier.verify(BODY, std(), now=TS).id == MSG_ID
    with pytest.raises(ReplayedMessageError) as info:
        verifier.verify(BODY, std(), now=TS)
    assert info.value.reason == "replayed"
    # Forged requests never reach the store, so they cannot fill it or burn ids.
    with pytest.raises(SignatureMismatchError):
        verifier.verify(BODY, std(webhook_id="msg_forged"), now=TS)
    assert calls == [MSG_ID, MSG_ID]


def test_verifier_matches_module_verify() -> None:
    for case in CASES:
        options = {k: v for k, v in case.kwargs.items() if k not in ("now", "parse")}
        call: dict[str, Any] = {
            "now": case.kwargs.get("now", TS),
            "parse": case.kwargs.get("parse", True),
        }
        try:
            expected: object = _run(case)
        except WebhookError as exc:
            expected = (type(exc), exc.reason)
        try:
            got: object = Verifier(case.secrets, **options).verify(case.body, case.headers, **call)
        except WebhookError as exc:
            got = (type(exc), exc.reason)
        assert got == expected, case.name


def test_verifier_repr_hides_secrets() -> None:
    verifier = Verifier(SECRET)
    assert SECRET.removeprefix("whsec_") not in repr(verifier)
    assert verifier.scheme == "standard"


def test_verify_uses_the_clock_by_default() -> None:
    headers = sign(BODY, SECRET, msg_id="msg_now")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5
    assert verify(BODY, headers, SECRET).id == "msg_now"
    old = sign(BODY, SECRET, msg_id="msg_old", timestamp=int(time.time()) - 3600)
    with pytest.raises(TimestampOutOfToleranceError):
        verify(BODY, old, SECRET)


# ------------------------------------------------------------------------------------ signing


def test_sign_emits_one_entry_per_secret_in_order() -> None:
    headers = sign(BODY, [OTHER_SECRET, SECRET], msg_id=MSG_ID, timestamp=TS)
    assert headers["webhook-signature"] == f"{v1(key=b'another key of 24 bytes!')} {SIG}"
    assert verify(BODY, headers, OTHER_SECRET, now=TS).id == MSG_ID


def test_sign_legacy() -> None:
    assert sign(BODY, SECRET, msg_id=MSG_ID, scheme="openpanel") == {
        "X-OpenPanel-Signature": LEGACY_HEX
    }
    # The first secret is the current one; the legacy header carries only its signature.
    assert sign(BODY, [SECRET, OTHER_SECRET], msg_id="m", scheme="openpanel") == {
        "X-OpenPanel-Signature": LEGACY_HEX
    }


@pytest.mark.parametrize("msg_id", ["msg.1", "", "msg_\u00e9"])
def test_sign_refuses_bad_ids(msg_id: str) -> None:
    with pytest.raises(ValueError, match="msg_id"):
        sign(BODY, SECRET, msg_id=msg_id, timestamp=TS)


@pytest.mark.parametrize("timestamp", [-1, 10**12])
def test_sign_refuses_bad_timestamps(timestamp: int) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        sign(BODY, SECRET, msg_id=MSG_ID, timestamp=timestamp)


def test_sign_accepts_buffers_and_bytes_secrets() -> None:
    expected = sign(BODY, SECRET, msg_id=MSG_ID, timestamp=TS)
    assert sign(bytearray(BODY), KEY, msg_id=MSG_ID, timestamp=TS) == expected
    assert sign(memoryview(BODY), [KEY], msg_id=MSG_ID, timestamp=TS) == expected


def test_generate_secret() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secret != generate_secret()
    headers = sign(BODY, secret, msg_id="msg_1", timestamp=TS)
    assert verify(BODY, headers, secret, now=TS).id == "msg_1"
    legacy_headers = sign(BODY, secret, msg_id="msg_1", scheme="openpanel")
    assert verify(BODY, legacy_headers, secret, scheme="openpanel").body == BODY


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")
    assert not constant_time_equal(b"abc", b"abcd")
    assert not constant_time_equal(b"", b"a")


# -------------------------------------------------------------------------- secrets and types


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "whsec_!!!!",
        "whsec_MfKQ9r8G!!KYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
        "whsec_\u00e9\u00e9\u00e9\u00e9",
        b"",
        [],
        [SECRET, ""],
    ],
    ids=[
        "empty",
        "prefix only",
        "junk",
        "junk inside",
        "unpadded",
        "newline",
        "non-ASCII",
        "empty bytes",
        "empty list",
        "one empty in list",
    ],
)
def test_invalid_secrets(secret: Any) -> None:
    with pytest.raises(InvalidSecretError) as info:
        Verifier(secret)
    assert isinstance(info.value, ValueError)
    assert info.value.reason == "invalid_secret"
    assert info.value.http_status == 500
    if isinstance(secret, str) and len(secret) > 10:
        assert secret.removeprefix("whsec_").strip() not in str(info.value)
    with pytest.raises(InvalidSecretError):
        verify(BODY, std(), secret, now=TS)


def test_legacy_keeps_any_text_secret() -> None:
    # Legacy keys are the UTF-8 bytes of the whole string, so a non-base64 secret is fine there.
    headers = sign(BODY, "plain text secret", msg_id="m", scheme="openpanel")
    assert verify(BODY, headers, "plain text secret", scheme="openpanel").body == BODY
    with pytest.raises(InvalidSecretError):
        Verifier("", scheme="openpanel")
    with pytest.raises(InvalidSecretError):
        Verifier("\udc80", scheme="openpanel")


@pytest.mark.parametrize(
    ("body", "headers", "secrets", "options", "match"),
    [
        (BODY.decode(), std(), SECRET, {}, "bytes, not str"),
        (BODY, "webhook-id: x", SECRET, {}, "headers must be"),
        (BODY, [("webhook-id", "a", "b")], SECRET, {}, "pairs of str"),
        (BODY, [(b"webhook-id", b"x")], SECRET, {}, "pairs of str"),
        (BODY, {**std(), "webhook-id": b"x"}, SECRET, {}, "header values"),
        (BODY, std(), 12345, {}, "secrets must be"),
        (BODY, std(), [SECRET, 12345], {}, "must be str or bytes"),
        (BODY, std(), SECRET, {"now": str(TS)}, "now must be"),
        (BODY, std(), SECRET, {"tolerance": 300.0}, "tolerance"),
    ],
    ids=[
        "str body",
        "str headers",
        "triples",
        "bytes pairs",
        "bytes value",
        "int secret",
        "int in secrets",
        "str now",
        "float tolerance",
    ],
)
def test_wrong_argument_types_raise_type_error(
    body: Any, headers: Any, secrets: Any, options: dict[str, Any], match: str
) -> None:
    kwargs: dict[str, Any] = {"now": TS, **options}
    with pytest.raises(TypeError, match=match):
        verify(body, headers, secrets, **kwargs)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"now": datetime(2021, 2, 25, 15, 2, 10)}, "timezone-aware"),  # noqa: DTZ001
        ({"now": float("nan")}, "finite"),
        ({"tolerance": -1}, "tolerance"),
        ({"max_body_bytes": -1}, "max_body_bytes"),
        ({"scheme": "svix"}, "scheme"),
    ],
    ids=["naive datetime", "nan", "negative tolerance", "negative cap", "scheme"],
)
def test_bad_options_raise_value_error(options: dict[str, Any], match: str) -> None:
    kwargs: dict[str, Any] = {"now": TS, **options}
    with pytest.raises(ValueError, match=match) as info:
        verify(BODY, std(), SECRET, **kwargs)
    assert not isinstance(info.value, WebhookError)


def test_aware_datetime_in_another_zone() -> None:
    now = datetime.fromtimestamp(TS, tz=timezone(timedelta(hours=9)))
    assert verify(BODY, std(), SECRET, now=now).timestamp == TS


# ------------------------------------------------------------------------------------- errors


FIXED_REASONS = {
    MissingHeaderError: "missing_header",
    MalformedHeaderError: "malformed_header",
    InvalidTimestampError: "invalid_timestamp",
    NoSupportedSignatureError: "no_supported_signature",
    SignatureMismatchError: "signature_mismatch",
    ReplayedMessageError: "replayed",
    InvalidPayloadError: "invalid_payload",
}


def test_error_hierarchy_and_statuses() -> None:
    for cls, reason in FIXED_REASONS.items():
        assert issubclass(cls, WebhookVerificationError)
        assert (cls.reason, cls("x").reason, cls("x").http_status) == (reason, reason, 400)
    assert issubclass(WebhookError, OpenPanelError)
    assert issubclass(TimestampOutOfToleranceError, WebhookVerificationError)
    assert not issubclass(PayloadTooLargeError, WebhookVerificationError)
    too_large = PayloadTooLargeError("x", size=2, max_body_bytes=1)
    assert (too_large.http_status, too_large.size, too_large.max_body_bytes) == (413, 2, 1)
    assert issubclass(InvalidSecretError, ValueError)


def test_public_module_exports() -> None:
    assert webhooks.__all__ == sorted(webhooks.__all__)
    assert set(webhooks.__all__) == set(_webhooks.__all__) | {"ReplayCache"}
    for name in _webhooks.__all__:
        assert getattr(webhooks, name) is getattr(_webhooks, name)
    public = {name for name in vars(webhooks) if not name.startswith("_")} - {"annotations"}
    assert public == set(webhooks.__all__)


# -------------------------------------------------------------------- cross-check (optional)


def test_cross_check_with_standardwebhooks() -> None:
    reference = pytest.importorskip("standardwebhooks.webhooks")
    rng = random.Random(99)
    for secret in (SECRET, generate_secret()):
        theirs = reference.Webhook(secret)
        for i in range(50):
            body = json.dumps(
                {
                    "type": "t",
                    "i": i,
                    "s": rng.randbytes(rng.randrange(200)).hex(),
                    "u": "\u00eb\U0001f600",
                },
                ensure_ascii=False,
            ).encode()
            msg_id = f"msg_{rng.getrandbits(64):x}"
            now = int(time.time())
            ours = sign(body, secret, msg_id=msg_id, timestamp=now)
            # Ours -> theirs.
            theirs.verify(body, ours, json_parse=False)
            # Theirs -> ours, byte for byte.
            their_sig = theirs.sign(
                msg_id, datetime.fromtimestamp(now, tz=timezone.utc), body.decode()
            )
            assert their_sig == ours["webhook-signature"]
            message = verify(body, {**ours, "webhook-signature": their_sig}, secret)
            assert message.data == json.loads(body)


def test_verified_messages_are_ordinary_frozen_dataclasses() -> None:
    import dataclasses

    from openpanel_core.webhooks import Verifier, WebhookMessage, generate_secret, sign

    secret = generate_secret()
    body = b'{"type":"event.created","data":{"a":1}}'
    headers = sign(body, secret, msg_id="msg_1")
    fast = Verifier(secret).verify(body, headers)
    slow = WebhookMessage(
        id="msg_1",
        timestamp=fast.timestamp,
        type="event.created",
        data={"type": "event.created", "data": {"a": 1}},
        body=body,
    )
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("junk", [" ", "\n", "*", "=", "é"])
def test_signatures_with_characters_outside_base64_never_match(junk: str) -> None:
    from openpanel_core.webhooks import SignatureMismatchError, Verifier, generate_secret, sign

    secret = generate_secret()
    body = b"{}"
    headers = sign(body, secret, msg_id="msg_1")
    version, encoded = headers["webhook-signature"].split(",", 1)
    Verifier(secret).verify(body, headers, parse=False)  # the untouched one passes
    tampered = {**headers, "webhook-signature": f"{version},{encoded[:10]}{junk}{encoded[10:]}"}
    with pytest.raises(SignatureMismatchError):
        Verifier(secret).verify(body, tampered, parse=False)


def test_verifier_exposes_its_tolerance() -> None:
    from openpanel_core.webhooks import Verifier, generate_secret

    assert Verifier(generate_secret()).tolerance == 300
    assert Verifier(generate_secret(), tolerance=60).tolerance == 60
