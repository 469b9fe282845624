"""Memory checks before large allocations: a replay buffer or network that cannot fit in this machine's memory is
refused up front with one clear message, instead of failing (or swapping) deep into training."""
from __future__ import annotations

import os

from algorithms.errors import MARLError

GIB = 2**30


def physical_memory() -> int:
    """Bytes of RAM on this machine (0 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def require_fits(what: str, nbytes: int, hint: str, share: float = 0.75) -> None:
    """MARLError('too-large') if `what` (nbytes) would take more than `share` of the machine's memory."""
    total = physical_memory()
    if total and nbytes > share * total:
        raise MARLError("too-large", f"{what} would need {nbytes / GIB:,.1f} GiB, more than this machine's "
                                     f"{total / GIB:.0f} GiB of memory allows", hint)


def is_allocation_failure(error: BaseException) -> bool:
    """torch's and NumPy's ways of saying an allocation failed."""
    return isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "allocate memory" in str(error))
