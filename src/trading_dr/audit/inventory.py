"""Inventory: every resource of every template, by type, with its logical ids."""

from __future__ import annotations

from collections import defaultdict

from trading_dr.audit.model import Section, Templates, resources, table

# Deletion behaviour is part of the inventory: an auditor checks stateful resources survive.
_STATEFUL_POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


def inventory_section(templates: Templates) -> Section:
    summary = []
    tables = []
    for role, template in templates.items():
        by_type: dict[str, list[str]] = defaultdict(list)
        for logical, resource in resources(template).items():
            policy = "/".join(resource[k] for k in _STATEFUL_POLICIES if k in resource)
            by_type[resource["Type"]].append(f"{logical} ({policy})" if policy else logical)
        summary.append((role.value, len(resources(template)), len(by_type)))
        rows = [(kind, len(ids), ", ".join(ids)) for kind, ids in sorted(by_type.items())]
        tables.append(
            table(
                ("type", "count", "logical ids (deletion / replace policy)"),
                rows,
                f"{role.value} template",
            )
        )
    return Section(
        "Inventory",
        ("Resources per template by type; stateful resources show their deletion policy.",),
        (table(("template", "resources", "types"), summary, "totals"), *tables),
    )
