"""hepmlp: event classification and calorimeter calibration with a from-scratch MLP."""

__version__ = "0.1.0"
