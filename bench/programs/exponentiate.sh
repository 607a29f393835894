#!/bin/sh
# "Exponentiate" (paper Table II): b^e mod m by repeated multiplication.
awk -v e="${1:-30000000}" 'BEGIN { m = 1000003; x = 1; for (i = 0; i < e; i++) x = (x * 7) % m; print x }'
