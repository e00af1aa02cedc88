"""crabplus.balance"""
