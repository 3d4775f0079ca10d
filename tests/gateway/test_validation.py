from __future__ import annotations

import pytest

from gateway.errors import InvalidAddress, InvalidPagination, InvalidUserId
from gateway.validation import parse_address, parse_positive_int, parse_user_id

CHECKSUMMED = "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13D"


@pytest.mark.parametrize(
    "value",
    [CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()],
)
def test_addresses_in_any_valid_case_are_accepted_in_comparison_form(value: str) -> None:
    assert parse_address(value) == CHECKSUMMED.lower()


@pytest.mark.parametrize(
    "value",
    [
        "0xBC4CA0EdA7647A8aB7C2061c2E118A18a936f13d",  # checksum broken by one letter
        "BC4CA0EdA7647A8aB7C2061c2E118A18a936f13D",  # no 0x
        "0x" + "1" * 39,
        "0x" + "1" * 41,
        "0x" + "g" * 40,
        " 0x" + "1" * 40,
        "0x" + "1" * 40 + "\n",
        "",
        None,
        42,
        ["0x" + "1" * 40],
    ],
)
def test_malformed_addresses_are_rejected(value: object) -> None:
    with pytest.raises(InvalidAddress):
        parse_address(value)


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("20", 20), (100, 100), (20.0, 20)])
def test_page_sizes_accept_ints_and_digit_strings(value: object, expected: int) -> None:
    assert parse_positive_int(value, field="size", maximum=100) == expected


@pytest.mark.parametrize(
    "value", [0, 101, -1, "0", "1e3", "", " 5", 2.5, 0.0, 1e300, True, None, "٣"]
)
def test_out_of_range_or_mistyped_sizes_are_rejected(value: object) -> None:
    with pytest.raises(InvalidPagination):
        parse_positive_int(value, field="size", maximum=100)


@pytest.mark.parametrize("value", ["u1", "user.name@example:1", "a" * 128])
def test_user_ids_accepted(value: str) -> None:
    assert parse_user_id(value) == value


@pytest.mark.parametrize("value", ["", "a" * 129, "u 1", "u/1", "u\n1", "ü"])
def test_user_ids_rejected(value: str) -> None:
    with pytest.raises(InvalidUserId):
        parse_user_id(value)
