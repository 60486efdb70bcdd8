"""hepmlp.data"""
