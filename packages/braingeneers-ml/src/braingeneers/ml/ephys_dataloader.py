"""The legacy module path of ``EphysDataset`` (``braingeneers.ml.ephys_dataloader``).

Kept so old training scripts import unchanged; the class lives in
:mod:`braingeneers.ml.ephys_dataset`. Importing this module does not import torch.
"""

from __future__ import annotations

from braingeneers.ml.ephys_dataset import EphysDataset

__all__ = ["EphysDataset"]
