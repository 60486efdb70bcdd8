"""hepmlp.stages"""
