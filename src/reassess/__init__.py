"""reassess: how good is an image classifier really?

Data flows one way: images -> predictions (stored) -> metrics and analysis -> report.
Sub-packages follow that flow: ``labels`` and ``datasets`` describe what is evaluated, ``models`` and
``inference`` make predictions, ``store`` keeps them, ``metrics`` and ``analysis`` are pure
functions over the stored arrays, ``report``, ``review`` and ``cli`` are the edges.
"""

__version__ = "0.1.0"
