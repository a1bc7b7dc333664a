"""Landslide-event magnitude mLS (Tanyas, Allstadt & van Westen 2018, ESPL,
doi:10.1002/esp.4359), as the authors' reference code computes it (USGS landslides-mLS,
`mLS.m` at commit 1b8872e; the Python port geokshitij/pyslide-mLS agrees).

The frequency density dN/dA (count per m2, not normalised) is taken on the code's bins
(left edges 2 m2 x 1.2^k, k = 0..119), in the bin whose left edge is nearest the tail's
cutoff; a power law of the tail's exponent through that point is compared with the same
law through the reference event, the 1994 Northridge inventory (11,111 landslides): an
inventory like Northridge's scores log10(11111) = 4.05. The reference code divides each
bin's count by the width of the bin before it (x1(k) - x1(k-1)); its reference constants
were made that way, so this does too.
"""

from __future__ import annotations

import numpy as np

EDGES_M2 = 2.0 * 1.2 ** np.arange(120)
WIDTHS_M2 = np.r_[2.0, np.diff(EDGES_M2)]  # the reference code's widths (see above)
REFERENCE_MID_AREA_M2 = 4.876599623713225e04  # Northridge: midpoint of its tail
REFERENCE_MID_DENSITY = 8.364725347860417e-04  # its density there, count per m2
REFERENCE_COUNT = 11111


def landslide_magnitude(areas_m2: np.ndarray, cutoff_m2: float, exponent: float) -> float:
    """mLS of an inventory whose tail above `cutoff_m2` falls as A^-exponent."""
    areas = np.asarray(areas_m2, dtype=float)
    beta = -abs(exponent)
    k = int(np.argmin(np.abs(EDGES_M2 - cutoff_m2)))
    upper = EDGES_M2[k + 1] if k + 1 < len(EDGES_M2) else np.inf
    count = np.count_nonzero((areas >= EDGES_M2[k]) & (areas < upper))
    if count == 0:
        raise ValueError(f"no landslide in the bin at the cutoff ({cutoff_m2:.0f} m2)")
    constant = count / WIDTHS_M2[k] / cutoff_m2**beta
    reference = REFERENCE_MID_DENSITY / REFERENCE_MID_AREA_M2**beta
    return float(np.log10(REFERENCE_COUNT * constant / reference))
