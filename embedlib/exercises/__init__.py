"""Exercise checkers: the learner's cell calls ``check_...(answer)`` and sees a verdict.

Every checker returns a :class:`Verdict` and never raises: a learner's mistake (a wrong
shape, a NaN, an exception inside their function, a forgotten ``return``) becomes a
specific hint. Chapter modules (``embedlib.exercises.lookup`` and so on) hold the checkers;
this module holds the machinery they share.
"""

from .core import (
    LearnerError,
    as_array,
    as_count,
    as_id_set,
    as_number,
    as_whole_number,
    format_number,
    NotAttempted,
    Verdict,
    checker,
    compare_or_diagnose,
    compare_values,
    matches,
    run_learner,
)

__all__ = [
    "LearnerError", "NotAttempted", "Verdict", "as_array", "as_count", "as_id_set", "as_number",
    "as_whole_number", "checker", "compare_or_diagnose", "compare_values", "format_number", "matches",
    "run_learner",
]
