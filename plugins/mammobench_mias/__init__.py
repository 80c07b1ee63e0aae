"""mini-MIAS for mammobench: 322 digitised screen-film MLO mammograms with lesion circles."""
