"""Open-set identification: operating points stated as a target stranger rate, cohort normalisation,
image-condition detection and per-camera calibration. Pure logic: nothing here imports the gallery."""
