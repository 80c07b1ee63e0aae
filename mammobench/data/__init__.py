"""Data layer: readers, preprocessing, manifests, splits and label fractions."""
