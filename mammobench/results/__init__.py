"""Result records, run provenance and the results folder that sweeps resume from."""
