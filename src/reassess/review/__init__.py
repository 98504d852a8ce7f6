"""Expert review of the remaining mistakes: a local web app, a SQLite store, label export.

``reassess review RUNDIR --images PATH`` serves :mod:`reassess.review.server`; reviews live in
:class:`~reassess.review.store.ReviewStore`; :func:`~reassess.review.export.export_labels` writes
them as an expert multi-label file for ``reassess metrics --multilabel-file``.
"""
