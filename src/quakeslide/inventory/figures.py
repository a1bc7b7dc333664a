"""An inventory's figures from its landslides' areas: what `inventory` reports per event
and `predict` per scene."""

from __future__ import annotations

import numpy as np

from quakeslide.inventory.magnitude import landslide_magnitude
from quakeslide.inventory.statistics import fit_inverse_gamma, fit_tail
from quakeslide.inventory.volume import total_volume
from quakeslide.records import EventFigures, InverseGammaRecord, TailRecord, VolumeRecord


def event_figures(sources: list[str], areas: np.ndarray, volume_law: str) -> EventFigures:
    """Count, area, both fits (or why not), mLS and volume of one inventory."""
    refused: dict[str, str] = {}
    tail = gamma = mls = None
    try:
        fit = fit_tail(areas)
        tail = TailRecord(**fit.__dict__)
        mls = landslide_magnitude(areas, fit.cutoff_m2, fit.exponent)
    except ValueError as err:
        refused["tail"] = refused["mls"] = str(err)
    try:
        whole = fit_inverse_gamma(areas)
        gamma = InverseGammaRecord(**whole.__dict__, rollover_m2=whole.rollover_m2)
    except ValueError as err:
        refused["inverse_gamma"] = str(err)
    return EventFigures(
        sources=sources,
        count=len(areas),
        total_area_m2=float(areas.sum()),
        largest_m2=float(areas.max()) if len(areas) else None,
        tail=tail,
        inverse_gamma=gamma,
        mls=mls,
        volume_m3=VolumeRecord(**total_volume(areas, volume_law).__dict__),
        refused=refused,
    )
