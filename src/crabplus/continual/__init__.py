"""crabplus.continual"""
