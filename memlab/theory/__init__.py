"""SymPy is the source of truth: schedules, weightings, the Theorem 3.1/3.2 closed forms, eq. 14 and M*."""

from memlab.theory._schedules import (
    DEFAULT_STEPS,
    REPRESENTATIVE_T_INDEX,
    SCHEDULES,
    Schedule,
    T,
    get_schedule,
    timestep_grid,
)

__all__ = [
    "DEFAULT_STEPS",
    "REPRESENTATIVE_T_INDEX",
    "SCHEDULES",
    "Schedule",
    "T",
    "get_schedule",
    "timestep_grid",
]
