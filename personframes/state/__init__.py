"""The output folder's own records, ``OUT/.personframes/``: each video's state database
(``video``: steps and typed ``records``), what the videos of a folder share (``index``:
names, path cache), the locks (``locks``), the migration of the older layout
(``migrate``), the review's decisions and people (``review``, ``review_manifest``).

Below both the pipeline and the review gallery, which read and write through it; every
path here is opened with no link followed (:mod:`personframes.output.safe_paths`).
"""
