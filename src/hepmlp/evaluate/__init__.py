"""hepmlp.evaluate"""
