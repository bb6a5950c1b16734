"""Test configuration: float64 and two CPU devices are enabled here (the library never does it on import)."""

import os

os.environ.setdefault("MEMLAB_PROGRESS", "0")

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_num_cpu_devices", 2)

from hypothesis import settings  # noqa: E402

settings.register_profile("memlab", deadline=None, max_examples=50, derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "memlab"))
