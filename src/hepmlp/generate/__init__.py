"""hepmlp.generate"""
