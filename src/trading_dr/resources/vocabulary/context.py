"""The frozen per-stack context handed to every builder: config, role and naming."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Tags

from trading_dr import __version__
from trading_dr.config import Environment, Role
from trading_dr.config_sections import RegionSettings

PROJECT = "trading-dr"
# Resources that hold data outlive their stack and any replacement. On a failed first
# create there is no data yet, so CloudFormation may delete them: a re-run then starts
# clean instead of failing with "already exists" on every retained name.
KEEP_DATA = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}


@dataclass(frozen=True)
class StackContext:
    env: Environment
    role: Role

    @property
    def region(self) -> str:
        """The region this stack is deployed in (global lives in the primary region)."""
        return self.env.region_of(self.role)

    @property
    def peer_region(self) -> str:
        other = self.env.secondary if self.role is not Role.SECONDARY else self.env.primary
        return other.region

    @property
    def settings(self) -> RegionSettings:
        return self.env.region_settings(self.role)

    def name(self, *parts: str) -> str:
        """A physical name unique per environment: trading-<suffix>-<parts>."""
        return "-".join(("trading", self.env.suffix, *parts))

    def regional_name(self, *parts: str) -> str:
        """A name that must not collide across regions (IAM roles are global)."""
        return self.name(*parts, self.region)

    @property
    def failover_domain(self) -> str:
        """The API name clients use; Route 53 failover records answer for it."""
        return f"api.{self.env.domain}"

    @property
    def regional_domain(self) -> str:
        """This region's own API name: what its health check probes."""
        return f"{self.region}.api.{self.env.domain}"

    def ssm_path(self, leaf: str, role: Role | None = None) -> str:
        return f"/trading/{self.env.suffix}/{(role or self.role).value}/{leaf}"

    def tag_map(self, **extra: str) -> dict[str, str]:
        """Tags as a plain map (SSM, some resources), environment tags first, ours win."""
        return {
            **self.env.tags,
            "Project": PROJECT,
            "Environment": self.env.suffix,
            "DrRole": self.role.value,
            **extra,
        }

    def tags(self, **extra: str) -> Tags:
        """Tags on every taggable resource as a Key/Value list."""
        return Tags(**self.tag_map(**extra))

    def metadata(self) -> dict[str, object]:
        """Template-level generator metadata; no timestamps so output stays byte-identical."""
        return {
            "Generator": {
                "Name": PROJECT,
                "Version": __version__,
                "Environment": self.env.suffix,
                "Role": self.role.value,
                "PrimaryRegion": self.env.primary.region,
                "SecondaryRegion": self.env.secondary.region,
            }
        }
