"""hepmlp.optim"""
