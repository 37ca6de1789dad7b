"""Button data: round trip, 64-byte limit, and refusal of malformed or forged data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.callbacks import MAX_BYTES, Action, BadButtonData, ButtonCodec, ButtonData, Namespace

codec = ButtonCodec("123:secret-token")
ids = st.integers(min_value=0, max_value=10**12 - 1)
versions = st.integers(min_value=0, max_value=10**9 - 1)
data = st.builds(ButtonData, st.sampled_from(Namespace), st.sampled_from(Action), ids, versions)


@given(data)
def test_round_trip_within_64_bytes(value: ButtonData) -> None:
    encoded = codec.encode(value)
    assert len(encoded.encode()) <= MAX_BYTES
    assert codec.decode(encoded) == value


@given(st.text(max_size=100))
def test_arbitrary_text_is_refused(raw: str) -> None:
    with pytest.raises(BadButtonData):
        codec.decode(raw)


@given(data, st.integers(min_value=0, max_value=9))
def test_changing_any_character_is_refused(value: ButtonData, position: int) -> None:
    encoded = codec.encode(value)
    index = position % len(encoded)
    swapped = "0" if encoded[index] != "0" else "1"
    with pytest.raises(BadButtonData):
        codec.decode(encoded[:index] + swapped + encoded[index + 1:])


def test_data_signed_with_another_key_is_forged() -> None:
    other = ButtonCodec("456:another-token").encode(
        ButtonData(Namespace.TASK, Action.APPROVE, 1, 1))
    with pytest.raises(BadButtonData) as caught:
        codec.decode(other)
    assert caught.value.forged


@pytest.mark.parametrize("raw", [None, "", "x" * 65, "t:ap:1:1", "t:zz:1:1:0123456789",
                                 "t:ap:-1:1:0123456789", "t:ap:1:1:0123456789:extra"])
def test_malformed_data_is_refused(raw: str | None) -> None:
    with pytest.raises(BadButtonData):
        codec.decode(raw)
