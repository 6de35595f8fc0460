"""Export: the reviewed images and clips of an output folder, written in the layouts
trainers read.

``sources`` picks the images and clips (finished videos' manifests, the review's
decisions, merged and named people), ``layouts`` says which a layout takes, where each
goes and what goes beside it (kohya, imagefolder, jsonl, musubi, aitoolkit), ``configs``
writes the trainers' dataset configs, ``destination`` writes them: copies or hard links,
atomically, nothing in the output folder changed, and a rerun into the same folder
idempotent.
"""

from .run import ExportResult, export_dataset

__all__ = ["ExportResult", "export_dataset"]
