"""Lazy numba compilation for the analysis kernels.

Kernels are written as plain Python functions and decorated with :func:`jit`.
Importing a module that defines kernels does not import numba; the first call of
a kernel imports numba, compiles it with ``cache=True`` (so later processes load
the machine code from the on-disk cache) and replaces the proxy's target.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["jit", "compiled", "prange"]

prange = range
"""Parallel range for kernels; resolved to ``numba.prange`` when a kernel compiles."""

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.RLock()  # re-entrant: compiling a kernel compiles the kernels it calls


class _LazyKernel:
    """Callable proxy that compiles its Python function with numba on first call."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any]) -> None:
        self._func = func
        self._options = options
        self._compiled: Callable[..., Any] | None = None
        functools.update_wrapper(self, func)

    def compile(self) -> Callable[..., Any]:
        """Return the numba dispatcher, importing numba and compiling if needed."""
        if self._compiled is None:
            with _lock:
                if self._compiled is None:
                    import numba

                    namespace = self._func.__globals__
                    for name in self._func.__code__.co_names:
                        target = namespace.get(name)
                        if name == "prange":
                            namespace[name] = numba.prange
                        elif isinstance(target, _LazyKernel):
                            # a kernel calling another kernel needs the real dispatcher
                            namespace[name] = target.compile()
                    self._compiled = numba.njit(cache=True, **self._options)(self._func)
        return self._compiled

    @property
    def py_func(self) -> Callable[..., Any]:
        """The undecorated Python function (a slow reference implementation)."""
        return self._func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self.compile()
        return compiled(*args, **kwargs)


def jit(*, parallel: bool = False, fastmath: bool = False) -> Callable[[F], F]:
    """Mark a function as a numba kernel compiled lazily on its first call.

    Parameters
    ----------
    parallel
        Compile with ``parallel=True`` so ``numba.prange`` loops run on threads.
    fastmath
        Allow numba's fast-math floating-point reassociation.

    Returns
    -------
    Callable
        A decorator returning a callable proxy with the same signature.
    """
    options: dict[str, Any] = {"nogil": True}
    if parallel:
        options["parallel"] = True
    if fastmath:
        options["fastmath"] = True

    def decorate(func: F) -> F:
        return cast(F, _LazyKernel(func, options))

    return decorate


def compiled(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """Return the compiled dispatcher behind a :func:`jit` kernel (compiling it now)."""
    if isinstance(kernel, _LazyKernel):
        return kernel.compile()
    raise TypeError(f"{kernel!r} is not a braingeneers.analysis kernel")
