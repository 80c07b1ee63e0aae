"""Descriptor values for findings, following the terms of the ACR BI-RADS mammography lexicon.

The synthetic generator draws findings from these values and the report writer phrases them, so
both sides spell every descriptor the same way.
"""

from __future__ import annotations

# Mass shape and margin.
MASS_SHAPES = ("round", "oval", "irregular")
MASS_MARGINS = ("circumscribed", "obscured", "microlobulated", "indistinct", "spiculated")
SUSPICIOUS_MASS_SHAPES = ("irregular",)
SUSPICIOUS_MASS_MARGINS = ("microlobulated", "indistinct", "spiculated")

# Calcification morphology: typically benign, then suspicious.
BENIGN_CALCIFICATION_MORPHOLOGIES = ("round", "coarse", "popcorn", "vascular", "rim")
SUSPICIOUS_CALCIFICATION_MORPHOLOGIES = (
    "amorphous",
    "coarse heterogeneous",
    "fine pleomorphic",
    "fine linear branching",
)
CALCIFICATION_MORPHOLOGIES = BENIGN_CALCIFICATION_MORPHOLOGIES + SUSPICIOUS_CALCIFICATION_MORPHOLOGIES
CALCIFICATION_DISTRIBUTIONS = ("diffuse", "regional", "grouped", "linear", "segmental")

# Location. Quadrants are named from the patient's point of view; "central" means behind the
# nipple (retroareolar). Depth is the third of the nipple-to-chest-wall distance.
QUADRANTS = ("upper outer", "upper inner", "lower outer", "lower inner", "central")
DEPTHS = ("anterior", "middle", "posterior")

# Views on which an asymmetry can be seen; an asymmetry proper is seen on one view only.
DESCRIPTOR_VIEWS = ("CC", "MLO")
