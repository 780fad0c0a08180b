"""Sightline past one machine, on a Ray cluster (optional: ``pip install 'sightline[cluster]'``).

- :mod:`sightline.cluster.runtime`: connecting to a cluster (``serve --cluster auto|HOST:PORT|ray://HOST:PORT``)
  and the clear error when Ray is not installed.
- :mod:`sightline.cluster.cameras`: camera workers as Ray actors, restarted elsewhere when a node dies.
- :mod:`sightline.cluster.shards`: a very large gallery searched as index shards on the cluster.

The single-machine server needs none of it: SQLite and the in-process index stay the default.
"""
