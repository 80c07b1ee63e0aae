"""Shared vocabulary: laterality, views, density, BI-RADS and finding names.

Dataset adapters map their own spellings onto these names, so tasks, reports and leaderboards
use one spelling everywhere.
"""

from __future__ import annotations

LATERALITIES = ("L", "R")

# Standard mammographic views (DICOM ViewPosition values). CC and MLO are the screening views.
VIEWS = ("CC", "MLO", "ML", "LM", "XCCL", "XCCM", "FB", "SIO", "LMO", "AT")
SCREENING_VIEWS = ("CC", "MLO")

# BI-RADS breast density categories: A almost entirely fatty ... D extremely dense.
DENSITIES = ("A", "B", "C", "D")

# BI-RADS assessment categories as integers 0-6.
BIRADS = (0, 1, 2, 3, 4, 5, 6)

# Finding names used for image-level label columns and box categories.
MASS = "mass"
CALCIFICATION = "calcification"  # suspicious calcification, as VinDr-Mammo labels it
ARCHITECTURAL_DISTORTION = "architectural_distortion"
ASYMMETRY = "asymmetry"  # asymmetry, focal asymmetry and global asymmetry together
FOCAL_ASYMMETRY = "focal_asymmetry"
GLOBAL_ASYMMETRY = "global_asymmetry"
SKIN_THICKENING = "skin_thickening"
SKIN_RETRACTION = "skin_retraction"
NIPPLE_RETRACTION = "nipple_retraction"
SUSPICIOUS_LYMPH_NODE = "suspicious_lymph_node"
OTHER_FINDING = "other"

FINDINGS = (
    MASS,
    CALCIFICATION,
    ARCHITECTURAL_DISTORTION,
    ASYMMETRY,
    FOCAL_ASYMMETRY,
    GLOBAL_ASYMMETRY,
    SKIN_THICKENING,
    SKIN_RETRACTION,
    NIPPLE_RETRACTION,
    SUSPICIOUS_LYMPH_NODE,
    OTHER_FINDING,
)

# Image-level outcome labels.
CANCER = "cancer"
ABNORMAL = "abnormal"
MALIGNANT = "malignant"

SPLITS = ("train", "val", "test")
