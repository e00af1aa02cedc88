"""crabplus.model"""
