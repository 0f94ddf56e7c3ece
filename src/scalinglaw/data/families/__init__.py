"""One adapter per upstream source family; each turns its pinned files into long-table rows.

:data:`ADAPTERS` lists them in build order; :data:`FAMILIES` maps every family name to its
:class:`Family` metadata. Each adapter module's docstring says its sources, units and what it fixed.
"""

from __future__ import annotations

from scalinglaw.data.families import (
    chinchilla,
    datablations,
    gpt3,
    llm360,
    olmo,
    opt,
    overtrain,
    pythia,
    small,
    t5_pile,
)
from scalinglaw.data.families._base import ACCURACY, ARCHS, NATS, Adapter, Built, Context, Drop, Family

__all__ = [
    "ACCURACY",
    "ADAPTERS",
    "ARCHS",
    "FAMILIES",
    "NATS",
    "Adapter",
    "Built",
    "Context",
    "Drop",
    "Family",
]

ADAPTERS: tuple[Adapter, ...] = (
    gpt3.ADAPTER,
    opt.ADAPTER,
    chinchilla.ADAPTER,
    t5_pile.ADAPTER,
    datablations.ADAPTER,
    olmo.ADAPTER,
    pythia.ADAPTER,
    overtrain.ADAPTER,
    llm360.ADAPTER,
    *small.ADAPTERS,
)

FAMILIES: dict[str, Family] = {f.name: f for a in ADAPTERS for f in a.families}
