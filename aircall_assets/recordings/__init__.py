"""Recordings and voicemails archived before their signed links expire (``recordings:`` in the
settings): storage (``archive.py``), downloads (``fetch.py``), one file's fate
(``archiver.py``) and the asset (``asset.py``)."""
