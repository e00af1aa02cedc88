"""crabplus.metrics"""
