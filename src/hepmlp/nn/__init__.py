"""hepmlp.nn"""
