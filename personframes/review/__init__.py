"""Review of an output folder: decisions, people, the gallery server, contact sheets.

- ``catalog``: what is in the folder (read from each video's state database, read-only,
  so images appear while an ``extract`` is still writing them) and how far each video
  has got;
- ``server``: the local web gallery (``personframes review OUT``), its token
  (``access``) and request bodies (``bodies``);
- ``sheet``: contact sheets (``--sheet sheet.html`` or ``sheet.png``).

The decisions, merges and names themselves are kept by
:class:`personframes.state.review.ReviewStore` (``OUT/.personframes/review.sqlite``), and
the ``review`` field of each output in ``VIDEO_info.json`` is written by
:mod:`personframes.state.review_manifest`.
"""
