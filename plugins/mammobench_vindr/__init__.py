"""VinDr-Mammo for mammobench: the PhysioNet DICOM release and the Mammo-CLIP PNG release."""
