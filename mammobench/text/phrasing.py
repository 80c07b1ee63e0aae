"""Synonyms and sentence families used by the report writer.

Each table maps a descriptor or category to several phrasings of the same fact. The report
writer picks one at random, so reports written for the same findings differ in wording but
never in content.
"""

from __future__ import annotations

from mammobench import vocab

SIDE_WORDS = {"L": "left", "R": "right"}

DENSITY_PHRASES = {
    "A": ("almost entirely fatty", "predominantly fatty", "composed almost entirely of fat"),
    "B": (
        "made of scattered areas of fibroglandular density",
        "composed of scattered fibroglandular tissue",
        "mostly fatty with scattered fibroglandular densities",
    ),
    "C": (
        "heterogeneously dense, which may obscure small masses",
        "heterogeneously dense",
        "of heterogeneous density that can hide small lesions",
    ),
    "D": (
        "extremely dense, which lowers the sensitivity of mammography",
        "extremely dense",
        "very dense, limiting the detection of masses",
    ),
}

BIRADS_PHRASES = {
    0: ("incomplete, additional imaging evaluation is needed", "incomplete assessment, recall for more views"),
    1: ("negative", "no mammographic evidence of malignancy", "normal"),
    2: ("benign findings", "benign", "benign appearance"),
    3: ("probably benign, short-interval follow-up is suggested", "probably benign"),
    4: ("suspicious abnormality, biopsy should be considered", "suspicious for malignancy"),
    5: ("highly suggestive of malignancy", "highly suspicious for malignancy"),
    6: ("known biopsy-proven malignancy", "proven malignancy"),
}

SHAPE_WORDS = {
    "round": ("round", "rounded", "circular"),
    "oval": ("oval", "ovoid", "elliptical"),
    "irregular": ("irregular", "irregularly shaped"),
}

MARGIN_WORDS = {
    "circumscribed": ("circumscribed margins", "well-defined margins", "sharp margins"),
    "obscured": ("obscured margins", "partly obscured margins", "margins hidden by overlying tissue"),
    "microlobulated": ("microlobulated margins", "finely lobulated margins"),
    "indistinct": ("indistinct margins", "ill-defined margins", "blurred margins"),
    "spiculated": ("spiculated margins", "radiating spicules", "spiculated borders"),
}

CALCIFICATION_MORPHOLOGY_WORDS = {
    "round": ("round", "punctate", "small round"),
    "coarse": ("coarse", "large coarse"),
    "popcorn": ("popcorn-like", "coarse popcorn"),
    "vascular": ("vascular", "tram-track vascular"),
    "rim": ("rim", "eggshell"),
    "amorphous": ("amorphous", "faint amorphous", "indistinct amorphous"),
    "coarse heterogeneous": ("coarse heterogeneous", "heterogeneous coarse"),
    "fine pleomorphic": ("fine pleomorphic", "pleomorphic"),
    "fine linear branching": ("fine linear branching", "fine linear and branching", "casting-type linear"),
}

CALCIFICATION_DISTRIBUTION_WORDS = {
    "diffuse": ("in a diffuse distribution", "scattered throughout the breast"),
    "regional": ("in a regional distribution", "over a wide region"),
    "grouped": ("in a grouped distribution", "forming a cluster", "clustered together"),
    "linear": ("in a linear distribution", "arranged in a line"),
    "segmental": ("in a segmental distribution", "following a duct segment"),
}

QUADRANT_WORDS = {
    "upper outer": ("in the upper outer quadrant", "in the upper outer part"),
    "upper inner": ("in the upper inner quadrant", "in the upper inner part"),
    "lower outer": ("in the lower outer quadrant", "in the lower outer part"),
    "lower inner": ("in the lower inner quadrant", "in the lower inner part"),
    "central": ("in the retroareolar region", "behind the nipple", "in the central breast"),
}

DEPTH_WORDS = {
    "anterior": ("at anterior depth", "in the anterior third", "anteriorly"),
    "middle": ("at middle depth", "in the middle third", "at mid depth"),
    "posterior": ("at posterior depth", "in the posterior third", "posteriorly, near the chest wall"),
}

SUSPICION_WORDS = {
    True: ("suspicious for malignancy", "worrisome for malignancy", "suspicious in appearance"),
    False: ("with benign features", "benign in appearance", "likely benign"),
}

# Sentences stating that a finding is absent; each category has at least two phrasings.
NEGATIVE_SENTENCES: dict[str, tuple[str, ...]] = {
    vocab.MASS: (
        "No mass is seen.",
        "There is no suspicious mass.",
        "No dominant mass is identified.",
        "No discrete mass is present.",
    ),
    vocab.CALCIFICATION: (
        "No suspicious calcifications are seen.",
        "There are no suspicious microcalcifications.",
        "No calcifications of malignant type are present.",
    ),
    vocab.ARCHITECTURAL_DISTORTION: (
        "There is no architectural distortion.",
        "No architectural distortion is seen.",
        "The architecture is preserved.",
    ),
    vocab.ASYMMETRY: (
        "No asymmetry is seen.",
        "There is no asymmetry.",
        "The breasts are symmetric.",
    ),
    vocab.FOCAL_ASYMMETRY: (
        "No focal asymmetry is seen.",
        "There is no focal asymmetry.",
    ),
    vocab.GLOBAL_ASYMMETRY: (
        "There is no global asymmetry.",
        "The fibroglandular tissue is distributed symmetrically.",
    ),
    vocab.SKIN_THICKENING: (
        "The skin is not thickened.",
        "Skin thickness is normal.",
    ),
    vocab.SKIN_RETRACTION: (
        "There is no skin retraction.",
        "No skin retraction is seen.",
    ),
    vocab.NIPPLE_RETRACTION: (
        "The nipple is not retracted.",
        "There is no nipple retraction.",
    ),
    vocab.SUSPICIOUS_LYMPH_NODE: (
        "No suspicious lymph nodes are seen.",
        "The axillary lymph nodes appear normal.",
    ),
    vocab.OTHER_FINDING: (
        "There are no other findings.",
        "Nothing else of note is seen.",
    ),
    vocab.CANCER: (
        "There is no mammographic evidence of malignancy.",
        "No findings suspicious for cancer.",
        "The mammogram is negative for malignancy.",
    ),
}

# Short phrases naming a finding, used to build prompt families for attribute text embeddings.
CATEGORY_NOUNS: dict[str, tuple[str, ...]] = {
    vocab.MASS: ("a mass", "a breast mass", "a dense mass"),
    vocab.CALCIFICATION: (
        "suspicious calcifications",
        "suspicious microcalcifications",
        "a cluster of calcifications",
    ),
    vocab.ARCHITECTURAL_DISTORTION: (
        "architectural distortion",
        "an area of architectural distortion",
        "distorted breast architecture with radiating lines",
    ),
    vocab.ASYMMETRY: ("an asymmetry", "asymmetric breast tissue", "an area of asymmetric density"),
    vocab.FOCAL_ASYMMETRY: ("a focal asymmetry", "a focal asymmetric density"),
    vocab.GLOBAL_ASYMMETRY: ("a global asymmetry", "asymmetric tissue over more than one quadrant"),
    vocab.SKIN_THICKENING: ("skin thickening", "thickened skin"),
    vocab.SKIN_RETRACTION: ("skin retraction", "retraction of the skin"),
    vocab.NIPPLE_RETRACTION: ("nipple retraction", "a retracted nipple", "an inverted nipple"),
    vocab.SUSPICIOUS_LYMPH_NODE: (
        "a suspicious lymph node",
        "an enlarged axillary lymph node",
        "a dense lymph node without a fatty hilum",
    ),
    vocab.OTHER_FINDING: ("another finding", "an additional finding"),
    vocab.CANCER: ("malignancy", "breast cancer", "a malignant lesion"),
}

# Noun phrases of CATEGORY_NOUNS that take a plural verb.
PLURAL_NOUNS = frozenset({"suspicious calcifications", "suspicious microcalcifications"})

# Stems that turn a noun phrase into a sentence, e.g. "There is a mass."
POSITIVE_STEMS = (
    "There {be} {noun}.",
    "{Noun} {be} seen.",
    "The mammogram shows {noun}.",
    "Findings include {noun}.",
)
