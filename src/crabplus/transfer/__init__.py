"""crabplus.transfer"""
