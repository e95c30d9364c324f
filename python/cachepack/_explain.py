"""Explaining: what populating a cache from a bundle would do, and why it might not hit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cachepack import _native
from cachepack._populate import Input, _native_input
from cachepack.environment import Difference


@dataclass(frozen=True)
class TypeExplanation:
    """One artifact type of the bundle against the target cache."""

    type: str
    artifacts: int  # Entries (a key stored twice counts twice).
    keys: int  # Distinct keys.
    # With a target only (else None): keys the target holds, keys populate would write.
    present: int | None
    would_write: int | None
    missing: list[str] | None  # Some of the bundle's keys the target lacks...
    missing_more: int  # ... and how many more.
    target_only: list[str] | None  # The target's keys the bundle lacks (None: cannot list).
    target_only_more: int
    target_error: str | None  # Why the target could not be asked about this type.


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found; ``text`` is what ``cachepack explain`` prints."""

    recorded: dict[str, Any] | None  # The bundle's environment; None if it recorded none.
    target_environment: dict[str, Any]
    blocked: bool  # Some difference blocks: populate would refuse.
    differences: list[Difference]
    not_compared: list[dict[str, str]]  # Fields known on one side only.
    target: str | None  # The target's URL.
    types: list[TypeExplanation]
    text: str = field(repr=False)
    data: dict[str, Any] = field(repr=False)  # explanation_to_json(), parsed.

    def __str__(self) -> str:
        return self.text


def explain(
    source: Input,
    url: str | None = None,
    *,
    environment: dict[str, Any] | None = None,
    max_keys: int = 10,
) -> Explanation:
    """Says what populating ``url`` from a bundle or blob would do, writing nothing.

    First the environment the bundle recorded against the target's
    (``environment`` over this machine's native fields; pass
    :func:`cachepack.environment.current` for a full comparison), then per
    artifact type how many artifacts and keys the bundle has and, with a
    ``url``, how many the target holds already and which keys differ (at most
    ``max_keys`` listed per direction). ``cachepack explain`` in Python.
    """
    if max_keys < 0:
        from cachepack.errors import InvalidArgumentError

        raise InvalidArgumentError(f"max_keys must be 0 or more, not {max_keys}")
    text_json, text = _native.explain(_native_input(source), url or "", environment, max_keys)
    raw = json.loads(text_json)
    env = raw["environment"]
    return Explanation(
        recorded=env["recorded"],
        target_environment=env["target"],
        blocked=env["blocked"],
        differences=[Difference(**d) for d in env["differences"]],
        not_compared=list(env["not_compared"]),
        target=raw["target"],
        types=[TypeExplanation(**t) for t in raw["types"]],
        text=text,
        data=raw,
    )
