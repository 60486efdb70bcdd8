"""hepmlp.data: from ROOT ntuples to the training dataset, and back from it.

- ``expressions`` (with ``tokens``, ``expression_nodes``, ``jagged``): the safe
  expression language for features, selections and weights;
- ``reading`` (with ``read_settings``, ``prefetch``): uproot reading in
  bounded chunks, one chunk ahead in a background thread, with clear errors;
- ``weights``, ``split``: normalisation, balancing, negative weights; splits;
- ``dataset`` (with ``dataset_config``, ``samples``, ``writing``): the
  ``hepmlp dataset`` stage;
- ``store``: reading the dataset folder back (used by every later stage).
"""
