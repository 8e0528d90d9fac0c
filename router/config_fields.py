"""Building blocks shared by the routing config's models: strict parsing, `${VAR}`
expansion, and the field types several sections use."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["ModelList", "PositiveUSD", "StrictModel", "expand_env"]


class StrictModel(BaseModel):
    """Base of every config model: frozen, and unknown keys are errors."""

    # A misspelt key must stop start-up, not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str) -> str:
    """`${VAR}` and `${VAR:-default}` in endpoint URLs, so one file serves every environment."""

    def sub(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1)) or match.group(2)
        if found is None:
            raise ValueError(f"environment variable {match.group(1)} is not set and has no default")
        return found

    return _ENV_REF.sub(sub, value)


def _as_list(value: Any) -> Any:
    """`fallback: gpt-4` and `fallback: [gpt-4]` mean the same."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


ModelList = Annotated[list[str], BeforeValidator(_as_list)]
PositiveUSD = Annotated[Decimal, Field(ge=0)]
