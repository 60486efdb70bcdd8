"""hepmlp.io"""
