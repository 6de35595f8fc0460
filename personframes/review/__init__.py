"""Review of an output folder: decisions, people, the gallery server, contact sheets.

- ``store.ReviewStore``: accept / reject per image and person merges and names, kept in
  the output folder's state database (``OUT/.personframes/state.sqlite``);
- ``catalog``: what is in the folder (read from the same database, so images appear
  while an ``extract`` is still writing them) and how far each video has got;
- ``server``: the local web gallery (``personframes review OUT``);
- ``sheet``: contact sheets (``--sheet sheet.html`` or ``sheet.png``);
- ``manifest``: the ``review`` field of each output in ``VIDEO_info.json``.
"""
