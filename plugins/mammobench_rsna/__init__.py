"""RSNA Screening Mammography (Kaggle 2023) for mammobench: DICOM and Mammo-CLIP PNG layouts."""
