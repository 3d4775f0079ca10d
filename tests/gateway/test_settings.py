"""Settings: the environment names operators set, and the slices built from them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.resilience import GuardPolicy
from gateway.schema.limits import GraphQLLimits
from gateway.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_variables() -> set[str]:
    """Every ``NFTGW_*`` name in the README's configuration table."""
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `NFTGW_")]
    return {name for row in rows for name in re.findall(r"`NFTGW_(\w+)`", row.split("|")[1])}


def test_every_setting_is_documented_and_every_documented_name_is_read() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    assert documented_variables() == fields


def test_the_environment_reaches_the_guard_policy_and_the_graphql_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NFTGW_PROVIDER_DEADLINE", "3.5")
    monkeypatch.setenv("NFTGW_BULKHEAD_MAX_IN_FLIGHT", "7")
    monkeypatch.setenv("NFTGW_GRAPHQL_MAX_DEPTH", "4")
    monkeypatch.setenv("NFTGW_PROFILE", "production")
    settings = Settings()

    policy = GuardPolicy.from_settings(settings)
    assert (policy.provider_deadline, policy.bulkhead_max_in_flight) == (3.5, 7)
    limits = GraphQLLimits.from_settings(settings)
    assert limits.graphql_max_depth == 4
    assert limits.introspection is False
    assert GraphQLLimits.from_settings(Settings(profile="default")).introspection is True


def test_a_slice_keeps_its_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFTGW_RETRY_MAX", "9")  # at most 5
    with pytest.raises(ValueError, match="retry_max"):
        Settings()
    with pytest.raises(ValueError, match="provider_deadline"):
        GuardPolicy(provider_deadline=0)


def test_defaults_are_the_same_whether_read_whole_or_by_slice() -> None:
    assert GuardPolicy() == GuardPolicy.from_settings(Settings())
    assert GraphQLLimits() == GraphQLLimits.from_settings(Settings())
