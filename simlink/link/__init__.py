"""Transmitter -> channel -> receiver chain: pilots, AWGN, LS/LMMSE estimation."""
