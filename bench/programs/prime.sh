#!/bin/sh
# "Prime" (paper Table II): count the primes below N by trial division.
awk -v n="${1:-500000}" 'BEGIN { c = 0; for (i = 2; i < n; i++) { p = 1; for (d = 2; d * d <= i; d++) if (i % d == 0) { p = 0; break }; c += p }; print c }'
