"""crabplus.train"""
