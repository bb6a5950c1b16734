"""One recipe per paper figure: ``figure<N>.py`` modules discovered by ``memlab figure N``."""
