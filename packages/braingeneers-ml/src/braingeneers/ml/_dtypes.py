"""Map the dtype a user asks for (torch or numpy spelling) to what to read and what to return."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

UNITS = ("uV", "raw")


def check_units(units: str, what: str) -> str:
    """Return ``units`` or raise ``ValueError`` naming the accepted values."""
    if units not in UNITS:
        raise ValueError(f"{what}: units must be 'uV' or 'raw', got {units!r}")
    return units


def resolve(units: str, dtype: Any, what: str) -> tuple[np.dtype[Any] | None, torch.dtype | None]:
    """Return ``(numpy dtype to read, torch dtype to convert to afterwards or None)``.

    ``dtype=None`` means float32 for ``units="uV"`` and the file's raw dtype for ``"raw"``.
    A dtype numpy cannot hold (``torch.bfloat16``) is read as float32 and converted by torch.
    """
    import torch

    check_units(units, what)
    if dtype is None:
        return (np.dtype(np.float32), None) if units == "uV" else (None, None)
    if isinstance(dtype, torch.dtype):
        if dtype == torch.bfloat16:
            return np.dtype(np.float32), torch.bfloat16
        try:
            return torch.empty(0, dtype=dtype).numpy().dtype, None
        except TypeError as exc:
            raise TypeError(f"{what}: dtype {dtype} has no numpy equivalent") from exc
    if isinstance(dtype, str) and dtype == "bfloat16":
        return np.dtype(np.float32), torch.bfloat16
    try:
        return np.dtype(dtype), None
    except TypeError as exc:
        raise TypeError(f"{what}: dtype must be a torch or numpy dtype, got {dtype!r}") from exc


def to_tensor(array: np.ndarray, convert: torch.dtype | None, copy: bool = True) -> torch.Tensor:
    """Wrap a numpy array as a tensor, then convert if asked.

    With ``copy=False`` a strided view stays a (non-contiguous) view; else it is made contiguous.
    """
    import torch

    tensor = torch.from_numpy(array if not copy else np.ascontiguousarray(array))
    return tensor if convert is None else tensor.to(convert)
