"""The one table of scanner suppressions: every entry is used, reasoned, and written into
the resources' Metadata exactly as the table says (nothing else suppresses a check)."""

from __future__ import annotations

from troposphere import Template
from troposphere.sqs import Queue

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, template
from trading_dr.suppressions import SUPPRESSIONS, apply_suppressions, suppressions_for


def _all_resources() -> list[tuple[str, str, dict[str, object]]]:
    return [
        (logical, resource["Type"], resource)
        for env in ENVIRONMENTS
        for role in ALL_ROLES
        for logical, resource in template(env, role)["Resources"].items()
    ]


def test_every_entry_matches_a_rendered_resource() -> None:
    targets = {logical for logical, _, _ in _all_resources()} | {
        kind for _, kind, _ in _all_resources()
    }
    stale = [key for key in SUPPRESSIONS if key[0] not in targets]
    assert not stale, f"suppressions for resources that no longer exist: {stale}"


def test_every_reason_says_why() -> None:
    for key, reason in SUPPRESSIONS.items():
        assert len(reason.split()) >= 12, f"{key}: reason too thin: {reason!r}"
        assert key[1].startswith("CKV"), key


def test_metadata_holds_exactly_the_table() -> None:
    for logical, kind, resource in _all_resources():
        metadata = resource.get("Metadata", {})
        assert isinstance(metadata, dict)
        skips = metadata.get("checkov", {}).get("skip", [])
        expected = [{"id": c, "comment": r} for c, r in suppressions_for(logical, kind)]
        assert skips == expected, logical


def test_apply_keeps_existing_metadata_and_is_idempotent() -> None:
    built = Template()
    queue = built.add_resource(Queue("TradingApiStage", Metadata={"owner": {"team": "x"}}))
    apply_suppressions(built)
    apply_suppressions(built)
    metadata = queue.resource["Metadata"]
    assert metadata["owner"] == {"team": "x"}
    assert [s["id"] for s in metadata["checkov"]["skip"]] == ["CKV_AWS_120"]


def test_resources_without_entries_get_no_metadata() -> None:
    built = Template()
    queue = built.add_resource(Queue("SomethingElse"))
    apply_suppressions(built)
    assert "Metadata" not in queue.resource
