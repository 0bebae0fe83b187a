"""DR budget: the RTO/RPO table computed by `trading_dr.dr_budget` from the same templates."""

from __future__ import annotations

from trading_dr.audit.model import Section, Templates, table
from trading_dr.config import Environment
from trading_dr.dr_budget import ACCEPTED, BudgetError, compute_budget


def budget_section(templates: Templates, env: Environment) -> Section:
    try:
        budget = compute_budget(templates, env)
    except BudgetError as exc:
        # Only a template without failover resources lands here (e.g. while they are built).
        return Section("DR budget", (f"NOT COMPUTED: {exc}.",))
    rows = [
        (row["component"], f"{row['seconds']:g}", row["kind"], row["source"])
        for row in budget.rows()
    ]
    verdict = (
        "All targets met."
        if budget.within_targets
        else "TARGETS MISSED: " + "; ".join(budget.missed()) + "."
    )
    return Section(
        "DR budget",
        (
            f"Failure of the primary region: RTO for accepting trades {budget.rto_s:g} s (target "
            f"{budget.rto_target_s} s), storing resumes after {budget.storing_rto_s:g} s; RPO "
            f"{budget.rpo_s:g} s (target {budget.rpo_target_s} s), for accepted trades "
            f"{budget.rpo_by_store[ACCEPTED]:g} s. " + verdict,
            "Computed by `trading_dr.dr_budget` from the rendered templates; figures AWS "
            "decides carry the document that states them. Bounds are where a human is paged, "
            "not part of the RTO.",
            "Automatic failover: " + " ".join(budget.automatic_failover_conditions),
        ),
        (table(("component", "seconds", "kind", "source"), rows, "budget"),),
        findings=tuple(f"DR target missed: {problem}" for problem in budget.missed()),
    )
