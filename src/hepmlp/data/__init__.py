"""hepmlp.data: from ROOT ntuples to the training dataset, and back from it.

- ``expressions`` (with ``tokens``, ``expression_nodes``, ``jagged``): the safe
  expression language for features, selections and weights;
- ``reading``: uproot reading in bounded chunks, with clear errors;
- ``weights``, ``split``: normalisation, balancing, negative weights; splits;
- ``dataset`` (with ``dataset_config``, ``writing``): the ``hepmlp dataset`` stage;
- ``store``: reading the dataset folder back (used by every later stage).
"""
